// The wake-up datagram: after the module commits new events it sends one tiny UDP datagram
// to each configured worker address (WebhookNotifyWorker); the worker (wakeup_listen) polls
// MariaDB at once instead of at its next poll_interval_ms. Fire-and-forget: a lost datagram
// costs latency only (the poll is the safety net), and the content is ignored, so a stray
// datagram costs one extra poll at most.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "parse.hpp"  // split_host_port

namespace wh {

// Resolves "HOST:PORT" for UDP (every address of the name). Returns "" or what is wrong.
struct UdpAddress {
    sockaddr_storage addr{};
    socklen_t len = 0;
    std::string text;  // "127.0.0.1:9999", for log lines
};
std::string resolve_udp(const std::string& spec, std::vector<UdpAddress>& out, bool passive = false);

// The module's side: non-blocking sockets, one per address family, shared by all threads.
class WakeupSender {
public:
    WakeupSender() = default;
    ~WakeupSender();
    WakeupSender(const WakeupSender&) = delete;
    WakeupSender& operator=(const WakeupSender&) = delete;

    // Resolves every spec and opens the sockets. Returns "" or what is wrong; addresses that
    // resolved are kept even when another spec failed.
    std::string open(const std::vector<std::string>& specs);
    bool empty() const { return targets_.empty(); }
    // One datagram to every address; never blocks, never throws. Returns how many went out.
    size_t send() const noexcept;

private:
    int fd4_ = -1, fd6_ = -1;
    std::vector<UdpAddress> targets_;
};

// The module's side under load: a datagram per commit is costly for Apache, while the worker
// merges wake-ups into one DB cycle per 20 ms anyway. notify() after each commit: the first
// one after a quiet spell goes out at once (a background thread sends it), later ones within
// `gap` of a datagram share the next one, sent when the gap ends. Every notify() is followed by a datagram sent after
// it, so no commit waits for the worker's poll. notify() does no I/O and never blocks on it:
// an atomic flag, plus a futex wake only when the thread is idle.
class WakeupCoalescer {
public:
    WakeupCoalescer(std::unique_ptr<WakeupSender> sender, std::chrono::microseconds gap);
    ~WakeupCoalescer();  // sends what is pending, then stops the thread
    WakeupCoalescer(const WakeupCoalescer&) = delete;
    WakeupCoalescer& operator=(const WakeupCoalescer&) = delete;

    void notify() noexcept;
    // Datagram rounds sent so far (tests, diagnostics).
    size_t rounds() const { return rounds_.load(); }

private:
    void run();

    std::unique_ptr<WakeupSender> sender_;
    std::chrono::microseconds gap_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::atomic<bool> pending_{false};  // a notify() not yet covered by a datagram
    std::atomic<bool> idle_{false};     // the thread waits for pending_ (not in a gap)
    std::atomic<size_t> rounds_{0};
    bool stop_ = false;                 // guarded by mu_
    std::thread thread_;                // last: starts once the members above exist
};

// The worker's side: a bound, non-blocking UDP socket to add to the poll set.
class WakeupListener {
public:
    WakeupListener() = default;
    ~WakeupListener();
    WakeupListener(const WakeupListener&) = delete;
    WakeupListener& operator=(const WakeupListener&) = delete;

    // Binds "HOST:PORT" (numeric or a name; PORT 0 = any free port). Returns "" or the error.
    std::string open(const std::string& spec);
    int fd() const { return fd_; }
    unsigned port() const;  // the bound port (after PORT 0)
    // Reads every queued datagram; returns how many there were. Never blocks or throws.
    size_t drain() noexcept;

private:
    int fd_ = -1;
};

}  // namespace wh
