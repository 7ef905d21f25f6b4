#include "wakeup.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wh {

std::string resolve_udp(const std::string& spec, std::vector<UdpAddress>& out, bool passive) {
    std::string host, port;
    if (std::string e = split_host_port(spec, host, port); !e.empty()) return e;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    addrinfo* res = nullptr;
    int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0) return "cannot resolve '" + host + "': " + gai_strerror(rc);
    size_t before = out.size();
    for (addrinfo* a = res; a; a = a->ai_next) {
        if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) || a->ai_addrlen > sizeof(sockaddr_storage))
            continue;
        UdpAddress u;
        std::memcpy(&u.addr, a->ai_addr, a->ai_addrlen);
        u.len = a->ai_addrlen;
        char h[NI_MAXHOST] = {0}, p[NI_MAXSERV] = {0};
        getnameinfo(a->ai_addr, a->ai_addrlen, h, sizeof h, p, sizeof p, NI_NUMERICHOST | NI_NUMERICSERV);
        u.text = a->ai_family == AF_INET6 ? "[" + std::string(h) + "]:" + p : std::string(h) + ":" + p;
        out.push_back(u);
    }
    freeaddrinfo(res);
    if (out.size() == before) return "'" + host + "' has no IPv4/IPv6 address";
    return "";
}

WakeupSender::~WakeupSender() {
    if (fd4_ >= 0) ::close(fd4_);
    if (fd6_ >= 0) ::close(fd6_);
}

std::string WakeupSender::open(const std::vector<std::string>& specs) {
    std::string errors;
    for (const auto& spec : specs) {
        std::vector<UdpAddress> addrs;
        if (std::string e = resolve_udp(spec, addrs); !e.empty()) {
            errors += (errors.empty() ? "" : "; ") + e;
            continue;
        }
        for (auto& a : addrs) {
            int& fd = a.addr.ss_family == AF_INET ? fd4_ : fd6_;
            if (fd < 0) fd = socket(a.addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                errors += (errors.empty() ? "" : "; ") + std::string("socket: ") + std::strerror(errno);
                continue;
            }
            targets_.push_back(a);
        }
    }
    return errors;
}

size_t WakeupSender::send() const noexcept {
    static const char kMsg[] = "webhook-wakeup 1\n";
    size_t sent = 0;
    for (const auto& t : targets_) {
        int fd = t.addr.ss_family == AF_INET ? fd4_ : fd6_;
        if (fd < 0) continue;
        if (sendto(fd, kMsg, sizeof kMsg - 1, MSG_DONTWAIT | MSG_NOSIGNAL,
                   reinterpret_cast<const sockaddr*>(&t.addr), t.len) >= 0)
            ++sent;
    }
    return sent;
}

WakeupCoalescer::WakeupCoalescer(std::unique_ptr<WakeupSender> sender, std::chrono::microseconds gap)
    : sender_(std::move(sender)), gap_(gap), thread_([this] { run(); }) {}

WakeupCoalescer::~WakeupCoalescer() {
    try {
        {
            std::lock_guard<std::mutex> lock(mu_);
            stop_ = true;
        }
        cv_.notify_one();
        if (thread_.joinable()) thread_.join();
    } catch (...) {
    }
}

void WakeupCoalescer::notify() noexcept {
    // Already pending: the thread clears the flag before it sends, so that datagram goes out
    // after this call. Not idle: it is sending or in its gap and looks at the flag next.
    if (pending_.exchange(true) || !idle_.load()) return;
    // (seq_cst: either the thread sees pending_ before it sleeps, or we see idle_ and wake it;
    // taking mu_ waits until it really waits on cv_.)
    try {
        std::lock_guard<std::mutex> lock(mu_);
    } catch (...) {
        return;  // cannot happen in practice; the worker's poll still delivers
    }
    cv_.notify_one();
}

void WakeupCoalescer::run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
        idle_.store(true);
        cv_.wait(lock, [this] { return stop_ || pending_.load(); });
        idle_.store(false);
        if (pending_.exchange(false)) {
            lock.unlock();
            sender_->send();
            ++rounds_;
            lock.lock();
        }
        if (stop_) {
            if (!pending_.load()) return;
            continue;  // a notify() came while we sent: it gets its datagram before we stop
        }
        // The gap: notify() calls now only set pending_; the next round sends for all of them.
        cv_.wait_for(lock, gap_, [this] { return stop_; });
    }
}

WakeupListener::~WakeupListener() {
    if (fd_ >= 0) ::close(fd_);
}

std::string WakeupListener::open(const std::string& spec) {
    std::vector<UdpAddress> addrs;
    if (std::string e = resolve_udp(spec, addrs, true); !e.empty()) return e;
    const UdpAddress& a = addrs.front();
    int fd = socket(a.addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::string("socket: ") + std::strerror(errno);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len) != 0) {
        std::string e = "cannot bind " + a.text + ": " + std::strerror(errno);
        ::close(fd);
        return e;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    return "";
}

unsigned WakeupListener::port() const {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (fd_ < 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
    if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    return 0;
}

size_t WakeupListener::drain() noexcept {
    size_t n = 0;
    char buf[512];
    while (fd_ >= 0 && n < 100000) {
        ssize_t r = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR) continue;
            break;  // EAGAIN: empty (other errors: nothing more to read now either)
        }
        ++n;
    }
    return n;
}

}  // namespace wh
