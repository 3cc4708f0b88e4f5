// A C++ desktop application's side of the Customer Feedback Program, through `optin agent`.
//
// It starts the agent as a child process with two pipes, says hello, draws the Help-menu item
// as text, records usage, lets "the user" turn feedback off and on again, and closes. Standard
// library and POSIX only (posix_spawn, pipes); a real host would use its JSON library (for
// example nlohmann::json) where this file has its two small helpers.
//
//   g++ -std=c++17 -O2 -Wall -Wextra -o host host.cpp
//   ./host --endpoint http://127.0.0.1:8080 --root /tmp/millwright [--stay-off] -- optin agent
//
// Protocol: docs/agent.md. A request with an "id" gets exactly one reply; recording calls go
// without one, so the application never waits for telemetry. When this process exits (or
// crashes), the agent's input closes and it persists what was recorded before it exits.

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

extern char **environ;

namespace {

// JSON string literal for `text` (quotes, backslashes and control characters escaped).
std::string quote(const std::string &text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

// The raw value of the first `"key":` in a compact JSON line (the agent writes no spaces):
// a string without its quotes, or a literal/number as written.
std::string field(const std::string &json, const std::string &key) {
    const std::string needle = quote(key) + ":";
    std::size_t at = json.find(needle);
    if (at == std::string::npos) return "";
    at += needle.size();
    if (json[at] == '"') {
        std::string out;
        for (std::size_t i = at + 1; i < json.size() && json[i] != '"'; ++i) {
            if (json[i] == '\\' && i + 1 < json.size()) ++i;
            out += json[i];
        }
        return out;
    }
    std::size_t end = json.find_first_of(",}]", at);
    return json.substr(at, end - at);
}

class Agent {
  public:
    explicit Agent(const std::vector<std::string> &command) {
        int to_agent[2], from_agent[2];
        if (pipe(to_agent) != 0 || pipe(from_agent) != 0) throw std::runtime_error("pipe failed");
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, to_agent[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, from_agent[1], STDOUT_FILENO);
        posix_spawn_file_actions_addclose(&actions, to_agent[1]);
        posix_spawn_file_actions_addclose(&actions, from_agent[0]);
        std::vector<char *> argv;
        for (const std::string &arg : command) argv.push_back(const_cast<char *>(arg.c_str()));
        argv.push_back(nullptr);
        int failed = posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        close(to_agent[0]);
        close(from_agent[1]);
        if (failed != 0) throw std::runtime_error("cannot start the agent: " + std::string(std::strerror(failed)));
        to_ = to_agent[1];
        from_ = from_agent[0];
    }

    // A request with an id: returns its reply line (or its error line).
    std::string request(const std::string &op, const std::string &fields = "") {
        const long id = ++next_id_;
        send("{\"op\":" + quote(op) + ",\"id\":" + std::to_string(id) + fields + "}");
        const std::string want = "\"id\":" + std::to_string(id) + ",";
        for (;;) {
            std::string line = read_line();
            if (line.empty()) throw std::runtime_error("the agent ended without answering " + op);
            if (line.rfind("{" + want, 0) == 0) return line;
            std::cerr << "agent: " << field(line, "message") << "\n";  // an error for a call without id
        }
    }

    // A call without id (recording): no reply unless it is malformed.
    void notify(const std::string &op, const std::string &fields) { send("{\"op\":" + quote(op) + fields + "}"); }

    // Close our end of its input (as our exit would) and wait for the agent to finish.
    int finish() {
        close(to_);
        int status = 0;
        waitpid(pid_, &status, 0);
        close(from_);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

  private:
    void send(const std::string &line) {
        std::string data = line + "\n";
        const char *p = data.data();
        std::size_t left = data.size();
        while (left > 0) {
            ssize_t n = write(to_, p, left);
            if (n <= 0) throw std::runtime_error("the agent is gone");
            p += n;
            left -= static_cast<std::size_t>(n);
        }
    }

    std::string read_line() {
        for (;;) {
            std::size_t newline = buffer_.find('\n');
            if (newline != std::string::npos) {
                std::string line = buffer_.substr(0, newline);
                buffer_.erase(0, newline + 1);
                return line;
            }
            char chunk[4096];
            ssize_t n = read(from_, chunk, sizeof chunk);
            if (n <= 0) return "";
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
    }

    pid_t pid_ = 0;
    int to_ = -1;
    int from_ = -1;
    long next_id_ = 0;
    std::string buffer_;
};

// The Help menu as the application would draw it, from the agent's menu model.
void draw_menu(Agent &agent) {
    const std::string menu = agent.request("menu");
    const bool checked = field(menu, "checked") == "true";
    const bool enabled = field(menu, "enabled") == "true";
    std::cout << "Help\n  [" << (checked ? "x" : " ") << "] " << field(menu, "label");
    if (!enabled) std::cout << "  (disabled: " << field(menu, "reason") << ")";
    std::cout << "\n";
    std::size_t at = menu.find("\"actions\":");
    for (const char *id : {"what_is_sent", "view_sent"}) {
        std::size_t item = menu.find(quote(id), at);
        std::cout << "      " << field(menu.substr(item), "label") << "\n";
    }
}

void record_usage(Agent &agent, int pockets) {
    agent.notify("count", ",\"name\":\"toolpath.pocket\",\"n\":" + std::to_string(pockets));
    agent.notify("count", ",\"name\":\"file.import\",\"label\":\"step\"");
    agent.notify("choose", ",\"name\":\"ui.theme\",\"value\":\"dark\"");
    agent.notify("quantity", ",\"name\":\"model.part_count\",\"value\":37");
    agent.notify("duration", ",\"name\":\"simulation.duration\",\"seconds\":4.2");
    agent.notify("flag", ",\"name\":\"simulation.collision_check\"");
}

}  // namespace

int main(int argc, char **argv) {
    std::signal(SIGPIPE, SIG_IGN);  // a vanished agent is an error from write(), not our death
    std::string endpoint, root;
    bool stay_off = false;
    std::vector<std::string> command;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--endpoint" && i + 1 < argc) endpoint = argv[++i];
        else if (arg == "--root" && i + 1 < argc) root = argv[++i];
        else if (arg == "--stay-off") stay_off = true;
        else if (arg == "--") command.assign(argv + i + 1, argv + argc), i = argc;
    }
    if (endpoint.empty() || command.empty()) {
        std::cerr << "usage: host --endpoint URL [--root DIR] [--stay-off] -- AGENT COMMAND...\n";
        return 2;
    }
    try {
        Agent agent(command);
        std::string fields = ",\"protocol\":1,\"app\":\"millwright\",\"app_title\":\"Millwright\","
                             "\"app_version\":\"2025.3.0\",\"endpoint\":" + quote(endpoint);
        if (!root.empty()) fields += ",\"root\":" + quote(root);
        const std::string hello = agent.request("hello", fields);
        if (field(hello, "ok") != "true") throw std::runtime_error("hello refused: " + field(hello, "message"));
        std::cout << "agent protocol " << field(hello, "protocol") << ", feedback "
                  << (field(hello, "on") == "true" ? "on" : "off") << "\n";
        draw_menu(agent);
        agent.notify("session", ",\"action\":\"start\"");
        if (stay_off) {
            record_usage(agent, 5);  // the user never turned it on: the agent keeps nothing, sends nothing
        } else {
            std::cout << "> the user clicks the item\n";
            agent.request("toggle");
            draw_menu(agent);
            record_usage(agent, 3);
            std::cout << "> the user clicks the item\n";
            agent.request("toggle");  // off: what was recorded is erased
            draw_menu(agent);
            record_usage(agent, 100);
            std::cout << "> the user clicks the item\n";
            agent.request("toggle");
            draw_menu(agent);
            record_usage(agent, 7);
        }
        agent.notify("session", ",\"action\":\"end\"");
        const std::string preview = agent.request("preview");
        const std::string pockets = field(preview.substr(preview.find("\"report\":")), "toolpath.pocket");
        std::cout << "next report: toolpath.pocket=" << (pockets.empty() ? "none" : pockets) << "\n";
        const std::string closed = agent.request("close", ",\"timeout_s\":10");
        std::cout << "closed within the budget: " << field(closed, "done") << "\n";  // unsent reports stay on disk
        return agent.finish();
    } catch (const std::exception &error) {
        std::cerr << "host: " << error.what() << "\n";
        return 1;
    }
}
