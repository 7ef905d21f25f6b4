// bench_receiver: a fast loopback HTTP/1.1 receiver for scripts/bench (not a product part).
//
// Single-threaded epoll, keep-alive, pipelining-safe, Content-Length bodies only (what the
// worker and libcurl send). The path decides the answer:
//   /s…  200 {}                                (ackMode status)
//   /n…  200 {"notificationId":"<echo>"}      (ackMode notification-id: parses the body)
//   /h…  no answer until POST /release          (footprint: requests held in flight)
//   GET /stats    {"requests":…,"held":… (now),"conns":…,"seq":…,"firstNs":…,"lastNs":…}
//   POST /release answers every held request (200 + echo) and stops holding new ones
//   POST /hold    holds /h… requests again
//   POST /dump    writes "seq arrival_ns" (CLOCK_MONOTONIC) of every body carrying "seq":N
//                 to --arrivals FILE and forgets them; answers {"written":n}
//   POST /reset   zeroes the counters and forgets arrivals
// It prints "port N" on stdout once listening and exits on SIGTERM/SIGINT or after
// --max-seconds (default 1800): a benchmark helper must stop by itself.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

int64_t mono_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct Conn {
    std::string in;
    std::string out;
    size_t out_off = 0;
    bool close_after = false;
    unsigned held = 0;  // requests of this connection waiting for /release
    std::vector<std::string> held_ids;
};

struct Server {
    int ep = -1;
    std::unordered_map<int, Conn> conns;
    std::vector<int> held_fds;  // one entry per held request (fd may repeat)
    bool holding = true;
    uint64_t requests = 0, held_total = 0;
    int64_t first_ns = 0, last_ns = 0;  // first and latest counted request since /reset
    std::vector<std::pair<uint64_t, int64_t>> arrivals;
    std::string arrivals_path;
};

bool ieq_prefix(std::string_view s, std::string_view p) {
    if (s.size() < p.size()) return false;
    for (size_t i = 0; i < p.size(); ++i)
        if (tolower((unsigned char)s[i]) != tolower((unsigned char)p[i])) return false;
    return true;
}

// The value of "key": "<string>" or "key": <digits> in a JSON body (no full parse: the
// worker's bodies are compact JSON; a miss just means no echo / no arrival record).
std::string json_field(std::string_view body, std::string_view key) {
    std::string pat = "\"" + std::string(key) + "\"";
    size_t p = body.find(pat);
    if (p == std::string_view::npos) return {};
    p += pat.size();
    while (p < body.size() && (body[p] == ' ' || body[p] == ':' || body[p] == '\t')) ++p;
    if (p >= body.size()) return {};
    if (body[p] == '"') {
        size_t e = body.find('"', p + 1);
        if (e == std::string_view::npos) return {};
        return std::string(body.substr(p + 1, e - p - 1));
    }
    size_t e = p;
    while (e < body.size() && body[e] >= '0' && body[e] <= '9') ++e;
    return std::string(body.substr(p, e - p));
}

void append_response(Conn& c, const std::string& body, bool close_after) {
    char head[160];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
                     body.size(), close_after ? "Connection: close\r\n" : "");
    c.out.append(head, size_t(n));
    c.out += body;
}

std::string ack_body(const std::string& id) {
    if (id.empty()) return "{}";
    return "{\"notificationId\":\"" + id + "\"}";
}

// Its held requests go too: the fd number is reused by the next connection, which must not
// be answered (or closed) for them by /release.
void close_conn(Server& s, int fd) {
    epoll_ctl(s.ep, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    s.conns.erase(fd);
    s.held_fds.erase(std::remove(s.held_fds.begin(), s.held_fds.end(), fd), s.held_fds.end());
}

// Writes what is pending; false if the connection is gone.
bool flush(Server& s, int fd, Conn& c) {
    while (c.out_off < c.out.size()) {
        ssize_t w = send(fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
        if (w > 0) {
            c.out_off += size_t(w);
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            epoll_event ev{};
            ev.events = EPOLLIN | EPOLLOUT;
            ev.data.fd = fd;
            epoll_ctl(s.ep, EPOLL_CTL_MOD, fd, &ev);
            return true;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            close_conn(s, fd);
            return false;
        }
    }
    c.out.clear();
    c.out_off = 0;
    if (c.close_after && c.held == 0) {
        close_conn(s, fd);
        return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(s.ep, EPOLL_CTL_MOD, fd, &ev);
    return true;
}

std::string stats_json(const Server& s) {
    char buf[320];
    snprintf(buf, sizeof buf,
             "{\"requests\":%llu,\"held\":%zu,\"heldTotal\":%llu,\"conns\":%zu,\"seq\":%zu,"
             "\"firstNs\":%lld,\"lastNs\":%lld}",
             (unsigned long long)s.requests, s.held_fds.size(), (unsigned long long)s.held_total,
             s.conns.size(), s.arrivals.size(), (long long)s.first_ns, (long long)s.last_ns);
    return buf;
}

void release_all(Server& s) {
    std::vector<int> fds;
    fds.swap(s.held_fds);
    for (int fd : fds) {
        auto it = s.conns.find(fd);
        if (it == s.conns.end()) continue;
        Conn& c = it->second;
        if (c.held == 0) continue;
        --c.held;
        std::string id = c.held_ids.empty() ? std::string() : c.held_ids.front();
        if (!c.held_ids.empty()) c.held_ids.erase(c.held_ids.begin());
        append_response(c, ack_body(id), false);
    }
    for (int fd : fds) {
        auto it = s.conns.find(fd);
        if (it != s.conns.end()) flush(s, fd, it->second);
    }
}

std::string dump_arrivals(Server& s) {
    size_t n = s.arrivals.size();
    if (!s.arrivals_path.empty()) {
        FILE* f = fopen(s.arrivals_path.c_str(), "w");
        if (f) {
            for (const auto& a : s.arrivals) fprintf(f, "%llu %lld\n", (unsigned long long)a.first, (long long)a.second);
            fclose(f);
        } else {
            n = 0;
        }
    }
    s.arrivals.clear();
    return "{\"written\":" + std::to_string(n) + "}";
}

// Handles every complete request in c.in; false if the connection was closed.
bool process(Server& s, int fd, Conn& c) {
    size_t pos = 0;
    for (;;) {
        size_t hend = c.in.find("\r\n\r\n", pos);
        if (hend == std::string::npos) break;
        std::string_view head(c.in.data() + pos, hend - pos);
        size_t clen = 0;
        bool conn_close = false, expect100 = false;
        size_t ls = head.find("\r\n");
        std::string_view line = head.substr(0, ls);
        while (ls != std::string_view::npos) {
            size_t le = head.find("\r\n", ls + 2);
            std::string_view h = head.substr(ls + 2, (le == std::string_view::npos ? head.size() : le) - ls - 2);
            if (ieq_prefix(h, "content-length:")) clen = strtoull(std::string(h.substr(15)).c_str(), nullptr, 10);
            else if (ieq_prefix(h, "connection:") && h.find("close") != std::string_view::npos) conn_close = true;
            else if (ieq_prefix(h, "expect:") && h.find("100") != std::string_view::npos) expect100 = true;
            ls = le;
        }
        size_t body_at = hend + 4;
        if (c.in.size() < body_at + clen) {
            if (expect100 && c.in.size() == body_at) {
                c.out += "HTTP/1.1 100 Continue\r\n\r\n";
                if (!flush(s, fd, c)) return false;
            }
            break;
        }
        std::string_view body(c.in.data() + body_at, clen);
        size_t sp1 = line.find(' ');
        size_t sp2 = line.find(' ', sp1 + 1);
        std::string_view method = line.substr(0, sp1);
        std::string_view path = sp1 == std::string_view::npos ? std::string_view() : line.substr(sp1 + 1, sp2 - sp1 - 1);
        pos = body_at + clen;
        if (conn_close) c.close_after = true;

        std::string reply;
        bool hold = false;
        if (path.rfind("/stats", 0) == 0) {
            reply = stats_json(s);
        } else if (method == "POST" && path == "/release") {
            s.holding = false;
            release_all(s);
            reply = stats_json(s);
        } else if (method == "POST" && path == "/hold") {
            s.holding = true;
            reply = "{}";
        } else if (method == "POST" && path == "/dump") {
            reply = dump_arrivals(s);
        } else if (method == "POST" && path == "/reset") {
            s.requests = 0;
            s.held_total = 0;
            s.first_ns = s.last_ns = 0;
            s.arrivals.clear();
            reply = "{}";
        } else {
            ++s.requests;
            int64_t now = mono_ns();
            if (!s.first_ns) s.first_ns = now;
            s.last_ns = now;
            std::string seq = json_field(body, "seq");
            if (!seq.empty()) s.arrivals.emplace_back(strtoull(seq.c_str(), nullptr, 10), now);
            if (path.rfind("/h", 0) == 0 && s.holding) {
                hold = true;
                ++c.held;
                ++s.held_total;
                c.held_ids.push_back(json_field(body, "notificationId"));
                s.held_fds.push_back(fd);
            } else if (path.rfind("/n", 0) == 0 || path.rfind("/h", 0) == 0) {
                reply = ack_body(json_field(body, "notificationId"));
            } else {
                reply = "{}";
            }
        }
        // A held request blocks the ones pipelined behind it (HTTP/1.1 answers in order);
        // libcurl does not pipeline, so this only keeps the protocol honest.
        if (hold) break;
        if (c.held == 0) append_response(c, reply, c.close_after);
    }
    if (pos) c.in.erase(0, pos);
    if (!c.out.empty()) return flush(s, fd, c);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    int port = 0;
    double max_seconds = 1800;
    Server s;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> const char* {
            if (i + 1 >= argc) { fprintf(stderr, "missing value for %s\n", a.c_str()); exit(2); }
            return argv[++i];
        };
        if (a == "--port") port = atoi(next());
        else if (a == "--arrivals") s.arrivals_path = next();
        else if (a == "--max-seconds") max_seconds = atof(next());
        else { fprintf(stderr, "usage: bench_receiver [--port N] [--arrivals FILE] [--max-seconds S]\n"); return 2; }
    }
    // Thousands of held connections: lift the soft descriptor limit to the hard one.
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (sockaddr*)&addr, sizeof addr) != 0 || listen(lfd, 4096) != 0) {
        perror("bench_receiver: bind/listen");
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(lfd, (sockaddr*)&addr, &alen);
    printf("port %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    s.ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(s.ep, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.fd = sfd;
    epoll_ctl(s.ep, EPOLL_CTL_ADD, sfd, &ev);

    const int64_t deadline = mono_ns() + int64_t(max_seconds * 1e9);
    std::vector<epoll_event> evs(1024);
    char buf[65536];
    for (;;) {
        if (mono_ns() > deadline) { fprintf(stderr, "bench_receiver: --max-seconds reached\n"); break; }
        int n = epoll_wait(s.ep, evs.data(), int(evs.size()), 500);
        if (n < 0 && errno != EINTR) { perror("epoll_wait"); return 1; }
        bool stop = false;
        for (int i = 0; i < n; ++i) {
            int fd = evs[i].data.fd;
            if (fd == sfd) { stop = true; continue; }
            if (fd == lfd) {
                for (;;) {
                    int c = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0) break;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    epoll_event cev{};
                    cev.events = EPOLLIN;
                    cev.data.fd = c;
                    epoll_ctl(s.ep, EPOLL_CTL_ADD, c, &cev);
                    s.conns[c];
                }
                continue;
            }
            auto it = s.conns.find(fd);
            if (it == s.conns.end()) continue;
            Conn& c = it->second;
            if (evs[i].events & EPOLLOUT) {
                if (!flush(s, fd, c)) continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                bool closed = false;
                for (;;) {
                    ssize_t r = recv(fd, buf, sizeof buf, 0);
                    if (r > 0) { c.in.append(buf, size_t(r)); continue; }
                    if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) closed = true;
                    break;
                }
                if (closed) { close_conn(s, fd); continue; }
                if (c.held == 0) process(s, fd, c);
            }
        }
        if (stop) break;
    }
    if (!s.arrivals_path.empty() && !s.arrivals.empty()) dump_arrivals(s);
    return 0;
}
