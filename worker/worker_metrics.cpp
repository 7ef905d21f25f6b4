#include "worker_metrics.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "db.hpp"
#include "options.hpp"

namespace wh::worker {

const std::vector<double>& WorkerMetrics::buckets() {
    static const std::vector<double> b = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
    return b;
}

std::string WorkerMetrics::label(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (out.size() >= 32) break;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') out += c;
        else if (c >= 'A' && c <= 'Z') out += char(c - 'A' + 'a');
        else out += '_';
    }
    return out.empty() ? "none" : out;
}

std::string WorkerMetrics::reason_key(const std::string& reason) {
    std::string k = label(reason);
    if (failed_.size() + retried_.size() >= 64 && !failed_.count(k) && !retried_.count(k)) return "other";
    return k;
}

void WorkerMetrics::attempt(double seconds, bool success, bool final_failure, const std::string& reason) {
    std::lock_guard<std::mutex> g(mu_);
    size_t i = 0;
    while (i < buckets().size() && seconds > buckets()[i]) ++i;
    ++hist_[i];
    hist_sum_ += seconds;
    ++hist_count_;
    if (success) ++delivered_;
    else if (final_failure) ++failed_[reason_key(reason)];
    else ++retried_[reason_key(reason)];
}

void WorkerMetrics::endpoint_auto_disabled() {
    std::lock_guard<std::mutex> g(mu_);
    ++auto_disabled_;
}

void WorkerMetrics::purged(uint64_t deliveries, uint64_t attempts, uint64_t events) {
    std::lock_guard<std::mutex> g(mu_);
    purged_deliveries_ += deliveries;
    purged_attempts_ += attempts;
    purged_events_ += events;
}

void WorkerMetrics::set_inflight(size_t n) {
    std::lock_guard<std::mutex> g(mu_);
    inflight_ = n;
}

void WorkerMetrics::set_backlog(uint64_t pending, double oldest_due_age_s) {
    std::lock_guard<std::mutex> g(mu_);
    backlog_ = pending;
    oldest_due_ = oldest_due_age_s;
    backlog_known_ = true;
}

namespace {

std::string num(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

void head(std::string& out, const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

std::string WorkerMetrics::render() const {
    std::lock_guard<std::mutex> g(mu_);
    std::string o;
    head(o, "webhook_worker_delivered_total", "counter", "Notifications delivered (acknowledged by the receiver).");
    o += "webhook_worker_delivered_total " + std::to_string(delivered_) + "\n";
    head(o, "webhook_worker_failed_total", "counter",
         "Notifications failed for good (every scheduled attempt failed), by the last attempt's error class.");
    for (const auto& kv : failed_)
        o += "webhook_worker_failed_total{reason=\"" + kv.first + "\"} " + std::to_string(kv.second) + "\n";
    head(o, "webhook_worker_retried_total", "counter",
         "Failed attempts that will be retried (or held, after 410 Gone), by error class.");
    for (const auto& kv : retried_)
        o += "webhook_worker_retried_total{reason=\"" + kv.first + "\"} " + std::to_string(kv.second) + "\n";
    head(o, "webhook_worker_attempt_duration_seconds", "histogram", "Duration of delivery attempts.");
    uint64_t cum = 0;
    for (size_t i = 0; i < buckets().size(); ++i) {
        cum += hist_[i];
        o += "webhook_worker_attempt_duration_seconds_bucket{le=\"" + num(buckets()[i]) + "\"} " +
             std::to_string(cum) + "\n";
    }
    cum += hist_.back();
    o += "webhook_worker_attempt_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(cum) + "\n";
    o += "webhook_worker_attempt_duration_seconds_sum " + num(hist_sum_) + "\n";
    o += "webhook_worker_attempt_duration_seconds_count " + std::to_string(hist_count_) + "\n";
    head(o, "webhook_worker_db_conflict_retries_total", "counter",
         "Transactions run again after a deadlock, a Galera certification conflict or a lock wait timeout.");
    o += "webhook_worker_db_conflict_retries_total " + std::to_string(wh::db_conflict_retries()) + "\n";
    head(o, "webhook_worker_inflight", "gauge", "Deliveries this worker is sending now.");
    o += "webhook_worker_inflight " + std::to_string(inflight_) + "\n";
    if (backlog_known_) {
        head(o, "webhook_worker_backlog", "gauge",
             "Pending notifications in the database (all workers; held ones of disabled endpoints included).");
        o += "webhook_worker_backlog " + std::to_string(backlog_) + "\n";
        head(o, "webhook_worker_oldest_due_age_seconds", "gauge",
             "How long the most overdue pending notification of an enabled endpoint has been due (0: none).");
        o += "webhook_worker_oldest_due_age_seconds " + num(oldest_due_) + "\n";
    }
    head(o, "webhook_worker_endpoints_auto_disabled_total", "counter",
         "Endpoints this worker disabled after sustained failure (auto_disable_after).");
    o += "webhook_worker_endpoints_auto_disabled_total " + std::to_string(auto_disabled_) + "\n";
    head(o, "webhook_worker_retention_purged_total", "counter", "Rows purged by retention passes of this worker.");
    o += "webhook_worker_retention_purged_total{table=\"deliveries\"} " + std::to_string(purged_deliveries_) + "\n";
    o += "webhook_worker_retention_purged_total{table=\"attempts\"} " + std::to_string(purged_attempts_) + "\n";
    o += "webhook_worker_retention_purged_total{table=\"events\"} " + std::to_string(purged_events_) + "\n";
    return o;
}

// ---- the responder ----------------------------------------------------------------------

std::string MetricsServer::respond(const std::string& request_head, const WorkerMetrics& m) {
    auto reply = [](const char* status, const std::string& ctype, const std::string& body,
                    const std::string& extra = "") {
        return std::string("HTTP/1.1 ") + status + "\r\nContent-Type: " + ctype +
               "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n" +
               "Cache-Control: no-store\r\n" + extra + "\r\n" + body;
    };
    size_t eol = request_head.find("\r\n");
    std::string line = request_head.substr(0, eol == std::string::npos ? request_head.find('\n') : eol);
    size_t sp1 = line.find(' '), sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp1 == std::string::npos || sp2 == std::string::npos)
        return reply("400 Bad Request", "text/plain", "bad request\n");
    std::string method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string path = target.substr(0, target.find('?'));
    if (path != "/metrics" && path != "/") return reply("404 Not Found", "text/plain", "try /metrics\n");
    if (method != "GET" && method != "HEAD")
        return reply("405 Method Not Allowed", "text/plain", "GET only\n", "Allow: GET, HEAD\r\n");
    std::string body = m.render();
    std::string r = reply("200 OK", "text/plain; version=0.0.4; charset=utf-8", body);
    if (method == "HEAD") r.resize(r.size() - body.size());
    return r;
}

std::string MetricsServer::start(const std::string& listen) {
    std::string host;
    unsigned port = 0;
    if (std::string e = parse_loopback_listen(listen, host, port); !e.empty()) return e;
    bool v6 = host.find(':') != std::string::npos;
    fd_ = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return std::string("socket: ") + std::strerror(errno);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc;
    if (v6) {
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(uint16_t(port));
        inet_pton(AF_INET6, host.c_str(), &a.sin6_addr);
        rc = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(uint16_t(port));
        inet_pton(AF_INET, host.c_str(), &a.sin_addr);
        rc = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    if (rc != 0 || ::listen(fd_, 16) != 0 || pipe2(stop_pipe_, O_CLOEXEC) != 0) {
        std::string e = std::strerror(errno);
        stop();
        return e;
    }
    try {
        thread_ = std::thread([this] { serve(); });
    } catch (const std::exception& e) {
        stop();
        return e.what();
    }
    return "";
}

void MetricsServer::stop() {
    if (thread_.joinable()) {
        char c = 'x';
        if (write(stop_pipe_[1], &c, 1) < 0) { /* the thread also polls with a timeout */ }
        thread_.join();
    }
    for (int* f : {&fd_, &stop_pipe_[0], &stop_pipe_[1]})
        if (*f >= 0) {
            close(*f);
            *f = -1;
        }
}

void MetricsServer::serve() {
    for (;;) {
        pollfd p[2] = {{fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
        int n = poll(p, 2, 1000);
        if (n < 0 && errno != EINTR) return;
        if (p[1].revents) return;
        if (n <= 0 || !(p[0].revents & POLLIN)) continue;
        int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        timeval tv{2, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        std::string req;
        char buf[2048];
        while (req.size() < 8192 && req.find("\r\n\r\n") == std::string::npos &&
               req.find("\n\n") == std::string::npos) {
            ssize_t r = recv(c, buf, sizeof buf, 0);
            if (r <= 0) break;
            req.append(buf, size_t(r));
        }
        if (!req.empty()) {
            try {
                std::string out = respond(req, metrics_);
                size_t off = 0;
                while (off < out.size()) {
                    ssize_t w = send(c, out.data() + off, out.size() - off, MSG_NOSIGNAL);
                    if (w <= 0) break;
                    off += size_t(w);
                }
            } catch (...) {
                // out of memory while rendering: drop this scrape
            }
        }
        close(c);
    }
}

}  // namespace wh::worker
