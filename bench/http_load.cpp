// bench_http: an HTTP load generator for scripts/bench (libcurl multi, one thread).
//
// Closed loop (--concurrency C): C transfers always in flight, each re-issued as soon as it
// ends, over keep-alive connections. Open loop (--rate R): transfer i starts at t0 + i/R
// whatever the answers (at most --max-inflight at once; a start over 10 ms behind schedule
// counts as "late"; its latency is taken from the scheduled time, so a stall is not hidden).
// Stops after --duration seconds or --count requests.
//
// --url-file FILE: one URL per line instead of --url; request i goes to line i mod the
// number of lines (scripts/bench writes them in random order).
// Bodies: --body-file FILE (the same bytes every time) or --events [--batch B]: events for
// POST /events with a running "seq" in data (B > 1: a JSON array of B events), spread over
// --resellers N reseller ids R-bench-0 … (portfolio P-bench).
// --log FILE writes "seq done_ns" (CLOCK_MONOTONIC) for every event of every accepted
// request: scripts/bench joins it with the receiver's arrivals for end-to-end latency.
// Prints one JSON line of results on stdout.
#include "percentile.hpp"
#include <curl/curl.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

int64_t mono_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct Opts {
    std::string url, url_file, method = "GET", body_file, log_file, event_code = "processing.chargeback-processed";
    std::vector<std::string> headers;
    bool events = false;
    unsigned batch = 1, resellers = 1, concurrency = 1, max_inflight = 1024;
    double rate = 0, duration = 5, warmup = 0;
    uint64_t count = 0;
    long expect = 0;
};

struct Slot {
    CURL* h = nullptr;
    std::string body;
    std::string reply;
    uint64_t first_seq = 0;
    unsigned nseq = 0;
    int64_t started = 0;
    bool busy = false;
};

size_t on_data(char* p, size_t sz, size_t n, void* ud) {
    auto* s = static_cast<std::string*>(ud);
    if (s->size() < 4096) s->append(p, std::min(sz * n, size_t(4096) - s->size()));
    return sz * n;
}

void usage() {
    fprintf(stderr,
            "usage: bench_http (--url URL | --url-file F) [--method GET|POST] [--body-file F | --events [--batch B] [--resellers N]]\n"
            "                  [--header 'H: v']... (--concurrency C | --rate R [--max-inflight N])\n"
            "                  [--duration S] [--count N] [--warmup S] [--expect CODE] [--log FILE]\n");
    exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    Opts o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (a == "--url") o.url = next();
        else if (a == "--url-file") o.url_file = next();
        else if (a == "--method") o.method = next();
        else if (a == "--body-file") o.body_file = next();
        else if (a == "--events") o.events = true;
        else if (a == "--event-code") o.event_code = next();
        else if (a == "--batch") o.batch = unsigned(std::stoul(next()));
        else if (a == "--resellers") o.resellers = unsigned(std::stoul(next()));
        else if (a == "--header") o.headers.push_back(next());
        else if (a == "--concurrency") o.concurrency = unsigned(std::stoul(next()));
        else if (a == "--rate") o.rate = std::stod(next());
        else if (a == "--max-inflight") o.max_inflight = unsigned(std::stoul(next()));
        else if (a == "--duration") o.duration = std::stod(next());
        else if (a == "--count") o.count = std::stoull(next());
        else if (a == "--warmup") o.warmup = std::stod(next());
        else if (a == "--expect") o.expect = std::stol(next());
        else if (a == "--log") o.log_file = next();
        else usage();
    }
    std::vector<std::string> urls;
    if (!o.url_file.empty()) {
        std::ifstream f(o.url_file);
        if (!f) { fprintf(stderr, "cannot read %s\n", o.url_file.c_str()); return 2; }
        for (std::string line; std::getline(f, line);)
            if (!line.empty()) urls.push_back(line);
        if (!urls.empty()) o.url = urls[0];
    }
    if (o.url.empty() || o.batch == 0 || o.resellers == 0 || o.concurrency == 0) usage();
    if (o.events) o.method = "POST";
    if (!o.expect) o.expect = o.events ? 202 : 200;
    if (o.duration <= 0 || o.duration > 3600) { fprintf(stderr, "--duration must be in (0, 3600]\n"); return 2; }
    std::string fixed_body;
    if (!o.body_file.empty()) {
        std::ifstream f(o.body_file, std::ios::binary);
        if (!f) { fprintf(stderr, "cannot read %s\n", o.body_file.c_str()); return 2; }
        std::stringstream ss;
        ss << f.rdbuf();
        fixed_body = ss.str();
    }
    FILE* log = nullptr;
    if (!o.log_file.empty() && !(log = fopen(o.log_file.c_str(), "w"))) { perror("--log"); return 2; }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM* m = curl_multi_init();
    unsigned slots_n = o.rate > 0 ? o.max_inflight : o.concurrency;
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, long(slots_n));
    curl_slist* hdrs = nullptr;
    hdrs = curl_slist_append(hdrs, "Expect:");  // no 100-continue round trip for big batches
    if (o.method == "POST" && (o.events || !fixed_body.empty()))
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    for (const auto& h : o.headers) hdrs = curl_slist_append(hdrs, h.c_str());

    std::vector<Slot> slots(slots_n);
    std::vector<Slot*> idle;
    for (auto& s : slots) {
        s.h = curl_easy_init();
        curl_easy_setopt(s.h, CURLOPT_URL, o.url.c_str());
        curl_easy_setopt(s.h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(s.h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(s.h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(s.h, CURLOPT_WRITEDATA, &s.reply);
        curl_easy_setopt(s.h, CURLOPT_TIMEOUT_MS, 30000L);
        curl_easy_setopt(s.h, CURLOPT_PRIVATE, &s);
        if (o.method == "POST") curl_easy_setopt(s.h, CURLOPT_POST, 1L);
        idle.push_back(&s);
    }

    uint64_t seq = 0;
    auto make_body = [&](Slot& s) {
        if (!o.events) { s.body = fixed_body; s.nseq = 0; return; }
        s.first_seq = seq + 1;
        s.nseq = o.batch;
        std::string& b = s.body;
        b.clear();
        if (o.batch > 1) b += '[';
        for (unsigned k = 0; k < o.batch; ++k) {
            ++seq;
            char ev[400];
            snprintf(ev, sizeof ev,
                     "%s{\"eventCode\":\"%s\",\"resellerId\":\"R-bench-%llu\",\"portfolioId\":\"P-bench\","
                     "\"merchantId\":\"M-1\",\"data\":{\"seq\":%llu,\"transactionId\":\"T-%llu\",\"amount\":\"12.30\"}}",
                     k ? "," : "", o.event_code.c_str(), (unsigned long long)(seq % o.resellers),
                     (unsigned long long)seq, (unsigned long long)seq);
            b += ev;
        }
        if (o.batch > 1) b += ']';
    };

    uint64_t started_n = 0, ok = 0, errors = 0, events_ok = 0, late = 0, measured_ok = 0, measured_events = 0;
    std::string first_error;
    std::vector<double> lat_ms;
    lat_ms.reserve(1 << 16);
    const int64_t t0 = mono_ns();
    const int64_t t_end = t0 + int64_t(o.duration * 1e9);
    const int64_t t_warm = t0 + int64_t(o.warmup * 1e9);
    int64_t t_last_done = t0;
    auto may_start = [&]() { return (!o.count || started_n < o.count); };

    auto start = [&](Slot* s, int64_t now) {
        make_body(*s);
        if (!urls.empty()) curl_easy_setopt(s->h, CURLOPT_URL, urls[started_n % urls.size()].c_str());
        s->reply.clear();
        if (o.method == "POST") {
            curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE, long(s->body.size()));
            curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->body.data());
        }
        s->started = now;
        s->busy = true;
        ++started_n;
        curl_multi_add_handle(m, s->h);
    };

    int running = 0;
    bool issuing = true;
    for (;;) {
        int64_t now = mono_ns();
        if (now >= t_end || !may_start()) issuing = false;
        if (issuing) {
            if (o.rate > 0) {
                // open loop: every start due by now, in order; no slot free → late
                while (issuing && may_start()) {
                    int64_t due = t0 + int64_t(double(started_n) * 1e9 / o.rate);
                    if (due > now) break;
                    if (idle.empty()) break;
                    if (now - due > 10000000) ++late;  // started over 10 ms behind schedule
                    Slot* s = idle.back();
                    idle.pop_back();
                    start(s, due);
                }
            } else {
                while (!idle.empty() && may_start()) {
                    Slot* s = idle.back();
                    idle.pop_back();
                    start(s, now);
                }
            }
        }
        curl_multi_perform(m, &running);
        int left;
        while (CURLMsg* msg = curl_multi_info_read(m, &left)) {
            if (msg->msg != CURLMSG_DONE) continue;
            Slot* s = nullptr;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&s));
            int64_t done = mono_ns();
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            bool good = msg->data.result == CURLE_OK && code == o.expect;
            if (good) {
                ++ok;
                events_ok += s->nseq;
                if (log)
                    for (unsigned k = 0; k < s->nseq; ++k)
                        fprintf(log, "%llu %lld\n", (unsigned long long)(s->first_seq + k), (long long)done);
                if (s->started >= t_warm) {
                    lat_ms.push_back(double(done - s->started) / 1e6);
                    ++measured_ok;
                    measured_events += s->nseq;
                }
            } else {
                ++errors;
                if (first_error.empty()) {
                    first_error = msg->data.result != CURLE_OK ? curl_easy_strerror(msg->data.result)
                                                               : "HTTP " + std::to_string(code) + ": " + s->reply.substr(0, 200);
                }
            }
            t_last_done = done;
            curl_multi_remove_handle(m, s->h);
            s->busy = false;
            idle.push_back(s);
        }
        if (!issuing && idle.size() == slots.size()) break;
        if (mono_ns() > t_end + int64_t(35e9)) break;  // transfers time out at 30 s anyway
        // Closed loop: a finished transfer's slot is re-issued at once, not after a poll.
        int wait_ms = o.rate > 0 ? 1 : 100;
        if (o.rate <= 0 && issuing && !idle.empty() && may_start()) wait_ms = 0;
        int numfds;
        curl_multi_poll(m, nullptr, 0, wait_ms, &numfds);
    }
    if (log) fclose(log);
    // Rates over the measured window: from the end of the warm-up to the last answer.
    double window = double(t_last_done - std::max(t0, t_warm)) / 1e9;
    if (window <= 0) window = 1e-9;
    std::vector<double> l = lat_ms;
    double p50 = pct(l, 50), p95 = pct(l, 95), p99 = pct(l, 99);
    double mx = l.empty() ? 0 : *std::max_element(l.begin(), l.end());
    std::string err;
    for (char ch : first_error) {
        if (ch == '"' || ch == '\\') err += '\\';
        if ((unsigned char)ch >= 0x20) err += ch;
    }
    printf("{\"requests\":%llu,\"ok\":%llu,\"errors\":%llu,\"events\":%llu,\"late\":%llu,\"elapsed_s\":%.3f,"
           "\"rps\":%.1f,\"eps\":%.1f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
           "\"first_error\":\"%s\"}\n",
           (unsigned long long)started_n, (unsigned long long)ok, (unsigned long long)errors,
           (unsigned long long)events_ok, (unsigned long long)late, window, double(measured_ok) / window,
           double(measured_events) / window, p50, p95, p99, mx, err.c_str());
    for (auto& s : slots) curl_easy_cleanup(s.h);
    curl_slist_free_all(hdrs);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    return 0;
}
