// bench_db_insert: the database's own ceiling for scripts/bench — single-row INSERT commits
// per second through Connector/C (common/db.hpp, the product's one MariaDB layer), one
// connection per thread, autocommit (one durable commit per row), for --duration seconds.
// The row has the shape of an ingested event (the table is a copy of webhook_events without
// its foreign keys, created by scripts/bench). Prints one JSON line.
#include "percentile.hpp"
#include <db.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

int main(int argc, char** argv) {
    std::string spec, table = "bench_raw_events";
    unsigned concurrency = 1;
    double duration = 5, warmup = 0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (i + 1 >= argc) { fprintf(stderr, "missing value for %s\n", a.c_str()); return 2; }
        std::string v = argv[++i];
        if (a == "--database") spec = v;
        else if (a == "--table") table = v;
        else if (a == "--concurrency") concurrency = unsigned(std::stoul(v));
        else if (a == "--duration") duration = std::stod(v);
        else if (a == "--warmup") warmup = std::stod(v);
        else {
            fprintf(stderr, "usage: bench_db_insert --database SPEC [--table T] [--concurrency C] [--duration S] [--warmup S]\n");
            return 2;
        }
    }
    wh::DbConfig cfg;
    std::string err = wh::parse_db_config(spec, cfg);
    if (!err.empty() || concurrency == 0 || concurrency > 1000 || duration <= 0 || duration > 3600) {
        fprintf(stderr, "bench_db_insert: bad arguments %s\n", err.c_str());
        return 2;
    }
    wh::db_library_init();
    const std::string sql = "INSERT INTO " + table +
                            " (event_code, reseller_id, portfolio_id, merchant_id, data) VALUES (?,?,?,?,?)";
    std::mutex mu;
    std::vector<double> lat_ms;
    std::atomic<uint64_t> ok{0}, errors{0}, measured{0};
    std::string first_error;
    // Every thread connects first; the clock starts when all are ready (or gave up), so
    // connection set-up is not counted as commit time.
    std::atomic<bool> go{false};
    std::atomic<unsigned> ready{0};
    Clock::time_point t0, t_warm, t_end;
    std::vector<Clock::time_point> last(concurrency);
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < concurrency; ++t) {
        threads.emplace_back([&, t] {
            std::vector<double> mine;
            try {
                wh::Db db(cfg);
                try {
                    db.connect();
                } catch (...) {
                    ++ready;
                    throw;
                }
                ++ready;
                while (!go) std::this_thread::sleep_for(std::chrono::milliseconds(1));
                for (uint64_t n = 0;; ++n) {
                    auto s = Clock::now();
                    if (s >= t_end) break;
                    std::string data = "{\"seq\":" + std::to_string(n) + ",\"amount\":\"12.30\"}";
                    try {
                        db.exec_prepared(sql, {"processing.chargeback-processed", "R-bench-" + std::to_string(t),
                                               "P-bench", "M-1", data});
                        auto e = Clock::now();
                        ++ok;
                        last[t] = e;
                        if (s >= t_warm) {
                            mine.push_back(std::chrono::duration<double, std::milli>(e - s).count());
                            ++measured;
                        }
                    } catch (const wh::DbError& e) {
                        ++errors;
                        std::lock_guard<std::mutex> l(mu);
                        if (first_error.empty()) first_error = e.what();
                    }
                }
            } catch (const std::exception& e) {
                ++errors;
                std::lock_guard<std::mutex> l(mu);
                if (first_error.empty()) first_error = e.what();
            }
            std::lock_guard<std::mutex> l(mu);
            lat_ms.insert(lat_ms.end(), mine.begin(), mine.end());
        });
    }
    while (ready < concurrency) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    t0 = Clock::now();
    t_warm = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
    t_end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration));
    std::fill(last.begin(), last.end(), t0);
    go = true;
    for (auto& th : threads) th.join();
    auto end = *std::max_element(last.begin(), last.end());
    double window = std::chrono::duration<double>(end - std::max(t0, t_warm)).count();
    if (window <= 0) window = 1e-9;
    double p50 = pct(lat_ms, 50), p95 = pct(lat_ms, 95), p99 = pct(lat_ms, 99);
    std::string e;
    for (char ch : first_error) {
        if (ch == '"' || ch == '\\') e += '\\';
        if ((unsigned char)ch >= 0x20) e += ch;
    }
    printf("{\"requests\":%llu,\"ok\":%llu,\"errors\":%llu,\"elapsed_s\":%.3f,\"rps\":%.1f,\"eps\":%.1f,"
           "\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f,\"first_error\":\"%s\"}\n",
           (unsigned long long)(ok + errors), (unsigned long long)ok.load(), (unsigned long long)errors.load(),
           window, double(measured) / window, double(measured) / window, p50, p95, p99, e.c_str());
    return 0;
}
