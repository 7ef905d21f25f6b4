#include "api_metrics.hpp"

#include <jansson.h>

#include <cstdio>
#include <cstring>

#include "db.hpp"
#include "json.hpp"

namespace wh::api {

namespace {

const double kBuckets[MetricsBlock::kBuckets] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                  0.25,  0.5,    1,     2.5,  5,     10};

inline void add(uint64_t& c, uint64_t n) { __atomic_fetch_add(&c, n, __ATOMIC_RELAXED); }
inline uint64_t load(const uint64_t& c) { return __atomic_load_n(&c, __ATOMIC_RELAXED); }

const char* handler_name(size_t h) { return h == size_t(MetricsHandler::events) ? "events" : "api"; }

std::string num(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

}  // namespace

const double* metrics_buckets() { return kBuckets; }

void metrics_init(MetricsBlock& b) {
    std::memset(&b, 0, sizeof b);
    b.magic = MetricsBlock::kMagic;
}

EventCounts count_events(const std::string& body) {
    EventCounts c;
    JsonPtr j = json_parse(body, nullptr, 0);
    if (!j) return c;
    auto one = [&](json_t* o) {
        if (!json_is_object(o) || !json_is_string(json_object_get(o, "eventId"))) return;
        if (json_is_true(json_object_get(o, "duplicate"))) ++c.duplicate;
        else ++c.accepted;
    };
    if (json_is_array(j.get())) {
        size_t i;
        json_t* v;
        json_array_foreach(j.get(), i, v) one(v);
    } else {
        one(j.get());
    }
    return c;
}

void metrics_publish_count(uint64_t& block_counter, std::atomic<uint64_t>& published, uint64_t total) {
    uint64_t seen = published.load();
    // Threads race here: only the one that moves `published` forward adds its difference.
    while (seen < total && !published.compare_exchange_weak(seen, total)) {
    }
    if (seen < total) add(block_counter, total - seen);
}

void metrics_observe(MetricsBlock& b, MetricsHandler h, int status, long long micros, const std::string& body) {
    static std::atomic<uint64_t> retries_published{0};
    metrics_publish_count(b.db_conflict_retries, retries_published, wh::db_conflict_retries());
    size_t hi = size_t(h);
    if (hi >= MetricsBlock::kHandlers) return;
    if (status >= 100 && status < int(MetricsBlock::kStatuses)) add(b.responses[hi][status], 1);
    if (micros < 0) micros = 0;
    double s = double(micros) / 1e6;
    size_t i = 0;
    while (i < MetricsBlock::kBuckets && s > kBuckets[i]) ++i;
    add(b.latency_bucket[hi][i], 1);
    add(b.latency_sum_us[hi], uint64_t(micros));
    add(b.latency_count[hi], 1);
    if (h == MetricsHandler::events && status == 202) {
        EventCounts c = count_events(body);
        if (c.accepted) add(b.events_accepted, c.accepted);
        if (c.duplicate) add(b.events_duplicate, c.duplicate);
    }
}

std::string metrics_render(const MetricsBlock& b) {
    std::string o;
    auto head = [&](const char* name, const char* type, const char* help) {
        o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    };
    head("webhook_events_accepted_total", "counter", "Events committed by the events API (new events).");
    o += "webhook_events_accepted_total " + std::to_string(load(b.events_accepted)) + "\n";
    head("webhook_events_duplicate_total", "counter",
         "Events answered with an earlier event's id (same idempotency key); nothing was created.");
    o += "webhook_events_duplicate_total " + std::to_string(load(b.events_duplicate)) + "\n";
    head("webhook_events_rejected_total", "counter",
         "Requests to the events API answered with an error, by HTTP status (a rejected batch counts once).");
    // the usual ones always (stable series), any other that occurred
    for (int st = 400; st < 600; ++st) {
        uint64_t n = load(b.responses[size_t(MetricsHandler::events)][st]);
        bool usual = st == 400 || st == 413 || st == 415 || st == 422 || st == 500 || st == 503;
        if (n || usual) o += "webhook_events_rejected_total{status=\"" + std::to_string(st) + "\"} " + std::to_string(n) + "\n";
    }
    head("webhook_db_conflict_retries_total", "counter",
         "Transactions the module ran again after a deadlock, a Galera certification conflict or a lock wait timeout.");
    o += "webhook_db_conflict_retries_total " + std::to_string(load(b.db_conflict_retries)) + "\n";
    head("webhook_http_responses_total", "counter", "Responses of the module's handlers, by handler and HTTP status.");
    for (size_t h = 0; h < MetricsBlock::kHandlers; ++h)
        for (int st = 100; st < int(MetricsBlock::kStatuses); ++st)
            if (uint64_t n = load(b.responses[h][st]))
                o += std::string("webhook_http_responses_total{handler=\"") + handler_name(h) + "\",status=\"" +
                     std::to_string(st) + "\"} " + std::to_string(n) + "\n";
    head("webhook_request_duration_seconds", "histogram",
         "Time from the request's arrival to the module's answer, by handler.");
    for (size_t h = 0; h < MetricsBlock::kHandlers; ++h) {
        uint64_t cum = 0;
        std::string lbl = std::string("handler=\"") + handler_name(h) + "\"";
        for (size_t i = 0; i < MetricsBlock::kBuckets; ++i) {
            cum += load(b.latency_bucket[h][i]);
            o += "webhook_request_duration_seconds_bucket{" + lbl + ",le=\"" + num(kBuckets[i]) + "\"} " +
                 std::to_string(cum) + "\n";
        }
        cum += load(b.latency_bucket[h][MetricsBlock::kBuckets]);
        o += "webhook_request_duration_seconds_bucket{" + lbl + ",le=\"+Inf\"} " + std::to_string(cum) + "\n";
        o += "webhook_request_duration_seconds_sum{" + lbl + "} " + num(double(load(b.latency_sum_us[h])) / 1e6) + "\n";
        o += "webhook_request_duration_seconds_count{" + lbl + "} " + std::to_string(load(b.latency_count[h])) + "\n";
    }
    return o;
}

}  // namespace wh::api
