"""The long forms run on demand only: `pytest -m slow tests/reliability` or `python bench/reliability.py --long`
(tests/conftest.py skips every test marked slow unless ``-m`` selects it)."""
