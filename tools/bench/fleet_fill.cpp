// fleet_fill.cpp - the bucket side of bench_fleet.sh: puts N fleet ban records
// (spec of issue 13: key = CIDR with '_' for ':', JSON value v1) into an existing
// xdpban KV bucket with asynchronous JetStream publishes, and waits until a
// node's pinned maps hold all N (read-only, Blocklist::find). Writes no map; the
// bucket is the nodes' (they create it) unless --create asks for one of the spec's
// shape (history 1, file storage) when it is missing.
#include <nats/nats.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>

#include "bpf/blocklist.h"

namespace {

using namespace xdpban;
using Clock = std::chrono::steady_clock;

double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "fleet_fill: %s\n", what.c_str());
  std::exit(1);
}

void check(natsStatus s, const std::string& what) {
  if (s != NATS_OK) die(what + ": " + natsStatus_GetText(s) + " (" + nats_GetLastError(nullptr) + ")");
}

// IPv4 host number i of the fill: base + i, as text.
std::string host(uint32_t base, uint32_t i) {
  uint32_t a = base + i;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
  return buf;
}

std::atomic<uint64_t> g_errors{0};
std::string g_first_error;

void on_pub_error(jsCtx*, jsPubAckErr* pae, void*) {
  if (g_errors.fetch_add(1) == 0) g_first_error = pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err);
}

int fill(const std::string& server, const std::string& bucket, uint32_t count, uint32_t base,
         const std::string& jail, const std::string& origin, int64_t duration_s, int64_t max_pending,
         bool create) {
  natsOptions* opts = nullptr;
  check(natsOptions_Create(&opts), "options");
  check(natsOptions_SetURL(opts, server.c_str()), "url");
  check(natsOptions_SetTimeout(opts, 5000), "timeout");
  natsConnection* nc = nullptr;
  check(natsConnection_Connect(&nc, opts), "connect to " + server);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = max_pending;
  jo.PublishAsync.ErrHandler = on_pub_error;
  jo.PublishAsync.StallWait = 1000;
  jo.Wait = 10000;
  jsCtx* js = nullptr;
  check(natsConnection_JetStream(&js, nc, &jo), "jetstream");
  kvStore* kv = nullptr;
  natsStatus st = js_KeyValue(&kv, js, bucket.c_str());
  if (st == NATS_NOT_FOUND && create) {
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = bucket.c_str();
    kc.History = 1;
    kc.StorageType = js_FileStorage;
    st = js_CreateKeyValue(&kv, js, &kc);
  }
  check(st, "bucket " + bucket + (create ? "" : " (start a node first: it creates it; or --create)"));

  int64_t now = static_cast<int64_t>(time(nullptr));
  std::string value = "{\"v\":1,\"jail\":\"" + jail + "\",\"origin\":\"" + origin +
                      "\",\"start\":" + std::to_string(now) +
                      ",\"expiry\":" + std::to_string(now + duration_s) + ",\"failures\":3}";
  std::string prefix = "$KV." + bucket + ".";
  auto t0 = Clock::now();
  for (uint32_t i = 0; i < count; ++i) {
    std::string subj = prefix + host(base, i) + "/32";
    // A stall (max_pending in flight for StallWait) is the broker being slow, not an error: again.
    natsStatus ps;
    while ((ps = js_PublishAsync(js, subj.c_str(), value.data(), static_cast<int>(value.size()), nullptr)) ==
           NATS_TIMEOUT)
      ;
    check(ps, "publish " + subj);
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 120000;
  check(js_PublishAsyncComplete(js, &po), "waiting for the acknowledgements");
  double s = secs(Clock::now() - t0);

  jsStreamInfo* si = nullptr;
  jsErrCode ec = static_cast<jsErrCode>(0);
  check(js_GetStreamInfo(&si, js, ("KV_" + bucket).c_str(), nullptr, &ec), "stream info");
  uint64_t msgs = si->State.Msgs;
  jsStreamInfo_Destroy(si);
  std::printf(
      "{\"count\": %u, \"seconds\": %.3f, \"per_s\": %.0f, \"errors\": %llu, \"bucket_msgs\": %llu%s%s%s}\n",
      count, s, count / s, static_cast<unsigned long long>(g_errors.load()),
      static_cast<unsigned long long>(msgs), g_errors ? ", \"first_error\": \"" : "",
      g_errors ? g_first_error.c_str() : "", g_errors ? "\"" : "");
  kvStore_Destroy(kv);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  natsOptions_Destroy(opts);
  nats_Close();
  return g_errors ? 1 : 0;
}

double since_s(int64_t since_ns) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec - since_ns) / 1e9;
}

// Scans the N hosts in fill order with a cursor: a found host moves it on, a
// missing one is polled again after 1 ms. Every 100 ms a fixed sample of 4096
// hosts spread over the N is counted, so that the progress does not depend on
// the order the node applies them in. Prints seconds from since_ns
// (CLOCK_REALTIME, e.g. `date +%s%N` before the node's exec) to the first sampled
// host found, to half the sample, and to the last host found.
int wait_maps(const std::string& pin_dir, uint32_t count, uint32_t base, int64_t since_ns, double timeout_s) {
  auto t0 = Clock::now();
  std::unique_ptr<Blocklist> bl;
  while (!bl) {  // the node creates the maps at start-up
    auto r = Blocklist::open(pin_dir, Blocklist::Access::kRead);
    if (r) {
      bl = std::move(*r);
    } else {
      if (secs(Clock::now() - t0) > timeout_s) die(pin_dir + ": " + r.error().message);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  auto found = [&](uint32_t i) {
    auto f = bl->find(Cidr::host(*Address::parse(host(base, i))));
    return f.ok() && f->has_value();
  };
  const uint32_t samples = std::min<uint32_t>(4096, count);
  double first_s = -1, half_s = -1;
  auto last_sample = Clock::now() - std::chrono::seconds(1);
  auto sample = [&] {
    if (half_s >= 0 || Clock::now() - last_sample < std::chrono::milliseconds(100)) return;
    last_sample = Clock::now();
    uint32_t n = 0;
    for (uint32_t k = 0; k < samples; ++k) n += found(static_cast<uint32_t>(uint64_t{k} * count / samples));
    if (n > 0 && first_s < 0) first_s = since_s(since_ns);
    if (n >= samples / 2) half_s = since_s(since_ns);
  };
  uint32_t i = 0;
  while (i < count) {
    if (found(i)) {
      ++i;
      continue;
    }
    if (secs(Clock::now() - t0) > timeout_s) {
      std::printf(
          "{\"count\": %u, \"found\": %u, \"first_s\": %.3f, \"half_s\": %.3f, \"timeout_s\": %.1f}\n", count,
          i, first_s, half_s, timeout_s);
      return 1;
    }
    sample();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  double all_s = since_s(since_ns);
  if (first_s < 0) first_s = all_s;
  if (half_s < 0) half_s = all_s;
  std::printf("{\"count\": %u, \"found\": %u, \"first_s\": %.3f, \"half_s\": %.3f, \"all_s\": %.3f}\n", count,
              i, first_s, half_s, all_s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fleet_fill - fill an xdpban fleet bucket, wait for a node's maps (bench_fleet.sh)"};
  app.require_subcommand(1);
  std::string server = "nats://127.0.0.1:4222", bucket = "xdpban", jail = "sshd", origin = "fill", pin_dir;
  uint32_t count = 1000000, base = 0x14000000;  // 20.0.0.0
  int64_t duration_s = 86400, max_pending = 16384, since_ns = 0;
  double timeout_s = 120;
  bool create = false;

  auto* fl = app.add_subcommand("fill", "put COUNT ban records (hosts BASE, BASE+1, ...) into the bucket");
  fl->add_option("--server", server)->capture_default_str();
  fl->add_option("--bucket", bucket)->capture_default_str();
  fl->add_option("--count", count)->capture_default_str();
  fl->add_option("--base", base, "first address as a number")->capture_default_str();
  fl->add_option("--jail", jail)->capture_default_str();
  fl->add_option("--origin", origin)->capture_default_str();
  fl->add_option("--for", duration_s, "ban duration, seconds")->capture_default_str();
  fl->add_option("--max-pending", max_pending, "publishes in flight")->capture_default_str();
  fl->add_flag("--create", create, "create the bucket (history 1, file storage, 1 replica) if it is missing");

  auto* wt = app.add_subcommand("wait", "wait until the maps of PIN_DIR hold all COUNT hosts");
  wt->add_option("--pin-dir", pin_dir)->required();
  wt->add_option("--count", count)->capture_default_str();
  wt->add_option("--base", base)->capture_default_str();
  wt->add_option("--since-ns", since_ns, "CLOCK_REALTIME ns (date +%s%N)")->required();
  wt->add_option("--timeout", timeout_s)->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  if (*fl) return fill(server, bucket, count, base, jail, origin, duration_s, max_pending, create);
  return wait_maps(pin_dir, count, base, since_ns, timeout_s);
}
