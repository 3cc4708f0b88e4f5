"""The demo: a simulated fleet of a CAD/CAM application, sent through client, collector and analysis."""
