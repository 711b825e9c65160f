#include "io/fleet_link.h"

#include <nats/nats.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>

#include "io/fd.h"

namespace xdpban {

namespace {

using std::chrono::milliseconds;

constexpr size_t kBatch = 4096;           // watch entries per lock and eventfd write
constexpr milliseconds kRetryPause{250};  // before retrying a failed op or watch
constexpr milliseconds kBackoffMin{250};  // between connect / bind attempts, doubling
constexpr milliseconds kBackoffMax{4000};
constexpr milliseconds kClosedWait{5000};  // for libnats' closed callback after destroying
// For the watcher's consumer to be set up: about 1 s for a million keys, and
// a JetStream cluster that is electing a new leader (a server lost) drops the
// request unanswered, so a lost one is retried soon rather than waited out.
constexpr int64_t kWatchWaitMs = 10000;
constexpr int64_t kIdleNextMs = 200;    // watcher poll while nothing is batched
constexpr int kConflictRetries = 1000;  // revision conflicts in a row before pausing

// nats.c's last error of this thread, without its "(file.c:123): " prefix, in
// lower case ("Authorization Violation" -> "authorization violation").
std::string nats_error_text(natsStatus s) {
  const char* last = nats_GetLastError(nullptr);
  std::string text = last && *last ? last : natsStatus_GetText(s);
  if (!text.empty() && text[0] == '(') {
    if (auto p = text.find("): "); p != std::string::npos) text.erase(0, p + 3);
  }
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

Status readable(const std::string& what, const std::string& path) {
  if (path.empty()) return {};
  std::ifstream f(path);
  if (!f) return make_error(EACCES, "fleet: " + what + " '" + path + "' is not readable");
  return {};
}

// What one finished (or failed) op attempt says.
struct OpResult {
  bool done = false;
  bool beaten = false;
  std::string error;  // when !done
};

}  // namespace

// The target of one connection's libnats callbacks. It outlives the connection:
// the worker frees it only after the closed callback (always the last) ran.
struct ConnHooks {
  FleetLink::Impl* impl;
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;
};

struct FleetLink::Impl {
  FleetSettings settings;
  std::string where;  // the servers, for error texts
  natsOptions* opts = nullptr;
  Fd efd;

  mutable std::mutex mu;
  std::condition_variable work_cv;   // worker: ops, connection state, stop
  std::condition_variable watch_cv;  // watcher: a bucket to watch, a resync, stop
  std::deque<Op> ops;                // the front one is in progress
  std::deque<Event> events;
  bool stop = false;
  bool connected = false;
  bool session_over = false;  // libnats gave the connection up, or reconnected it: start over
  std::string server, last_error;
  uint64_t watch = 0;
  bool snapshot_done = false;
  kvStore* kv = nullptr;  // the bound bucket; nullptr while there is none
  bool watching = false;  // the watcher thread uses kv
  bool read_all = false;  // the bucket keeps one value per key: watch from the stream's start
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> resync{0};  // bumped on every bind: start a new watch

  std::mutex nc_mu;  // nc for the destructor's natsConnection_Close
  natsConnection* nc = nullptr;

  std::thread worker_thread, watcher_thread;

  ~Impl() {
    if (opts) natsOptions_Destroy(opts);
  }

  xdpban::Status make_options();
  void shutdown();

  // Under mu.
  void push_locked(Event ev) {
    bool was_empty = events.empty();
    events.push_back(std::move(ev));
    if (was_empty) wake_loop();
  }
  void wake_loop() {
    uint64_t one = 1;
    ssize_t n = ::write(efd.get(), &one, sizeof one);
    (void)n;  // EAGAIN only when the counter is full: still readable
  }
  void push_batch(std::vector<Event>& batch) {
    if (batch.empty()) return;
    std::lock_guard lk(mu);
    bool was_empty = events.empty();
    for (auto& e : batch) events.push_back(std::move(e));
    batch.clear();
    if (was_empty) wake_loop();
  }
  // One kError per change of text; the status keeps the latest.
  void report_error(const std::string& text) {
    std::lock_guard lk(mu);
    if (stop || text == last_error) return;
    last_error = text;
    push_locked(Event{.kind = Event::kError, .text = text});
  }
  void clear_error() {
    std::lock_guard lk(mu);
    last_error.clear();
  }
  // Sleeps d unless stop (or, with session, the connection closing) comes first.
  bool pause(milliseconds d, bool session) {
    std::unique_lock lk(mu);
    return !work_cv.wait_for(lk, d, [&] { return stop || (session && session_over); });
  }

  // libnats callbacks (its own thread).
  void on_disconnected() {
    std::lock_guard lk(mu);
    if (stop || !connected) return;
    connected = false;
    push_locked(Event{.kind = Event::kDisconnected, .text = "fleet: disconnected from " + server});
  }
  // libnats resubscribes by itself after a reconnect, and restarts the
  // watcher's ordered consumer on a thread of its own; destroying the watcher
  // while that runs is a use-after-free inside nats.c 3.4 (jsSub_deleteConsumer
  // reads the consumer name the restart frees). So a reconnect ends the
  // session instead: the connection is closed (no consumer deletes on a closed
  // connection) and a fresh one makes a fresh bucket handle and watch.
  void on_reconnected() {
    {
      std::lock_guard lk(mu);
      if (stop) return;
      session_over = true;
    }
    work_cv.notify_all();
  }
  void on_closed() {
    {
      std::lock_guard lk(mu);
      session_over = true;
      connected = false;
    }
    work_cv.notify_all();
  }

  void run_worker();
  void run_session(natsConnection* c);
  kvStore* bind(jsCtx* js);
  OpResult run_op(jsCtx* js, kvStore* store, const Op& op);
  OpResult put(kvStore* store, const Op& op);
  OpResult expire(jsCtx* js, kvStore* store, const Op& op);

  void run_watcher();
  bool pump(kvWatcher* w, uint64_t id, uint64_t gen);
};

namespace {

ConnHooks* hooks_of(void* closure) { return static_cast<ConnHooks*>(closure); }

void on_disconnected_cb(natsConnection*, void* closure) {
  auto* h = hooks_of(closure);
  std::lock_guard lk(h->mu);
  if (h->impl) h->impl->on_disconnected();
}

void on_reconnected_cb(natsConnection*, void* closure) {
  auto* h = hooks_of(closure);
  std::lock_guard lk(h->mu);
  if (h->impl) h->impl->on_reconnected();
}

void on_closed_cb(natsConnection*, void* closure) {
  auto* h = hooks_of(closure);
  std::lock_guard lk(h->mu);
  if (h->impl) h->impl->on_closed();
  h->closed = true;
  h->cv.notify_all();
}

// Async errors (a slow watcher, a lost heartbeat) show up again as a failing
// op or watch, which the threads handle; nothing to do here.
void on_async_error_cb(natsConnection*, natsSubscription*, natsStatus, void*) {}

}  // namespace

xdpban::Status FleetLink::Impl::make_options() {
  const FleetSettings& s = settings;
  if (s.servers.empty()) return invalid("fleet: no servers");
  if (s.tls_cert.empty() != s.tls_key.empty()) return invalid("fleet: tls_cert and tls_key go together");
  for (auto st : {readable("creds file", s.creds), readable("tls_ca file", s.tls_ca),
                  readable("tls_cert file", s.tls_cert), readable("tls_key file", s.tls_key)})
    if (!st) return st;
  for (const auto& srv : s.servers) where += (where.empty() ? "" : ", ") + srv;

  auto check = [](natsStatus st, const char* what) -> xdpban::Status {
    if (st == NATS_OK) return {};
    return invalid(std::string("fleet: ") + what + ": " + nats_error_text(st));
  };
  if (auto st = check(natsOptions_Create(&opts), "options"); !st) return st;
  std::vector<const char*> urls;
  for (const auto& srv : s.servers) urls.push_back(srv.c_str());
  bool tls = !s.tls_ca.empty() || !s.tls_cert.empty();
  for (const auto& srv : s.servers) tls = tls || srv.starts_with("tls://");
  std::string name = "xdpban " + s.node;
  const int64_t timeout = std::max<int64_t>(s.timeout_ms, 1);
  for (auto st : {
           check(natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size())), "servers"),
           check(natsOptions_SetName(opts, name.c_str()), "name"),
           check(natsOptions_SetTimeout(opts, timeout), "timeout"),
           check(natsOptions_SetMaxReconnect(opts, -1), "reconnect"),
           check(natsOptions_SetReconnectWait(opts, 500), "reconnect wait"),
           check(natsOptions_SetPingInterval(opts, 10000), "ping interval"),
           check(natsOptions_SetMaxPingsOut(opts, 3), "pings"),
           check(natsOptions_SetFailRequestsOnDisconnect(opts, true), "requests"),
           check(natsOptions_SetErrorHandler(opts, on_async_error_cb, nullptr), "error handler"),
       })
    if (!st) return st;
  if (!s.user.empty())
    if (auto st = check(natsOptions_SetUserInfo(opts, s.user.c_str(), s.password.c_str()), "user"); !st)
      return st;
  if (!s.token.empty())
    if (auto st = check(natsOptions_SetToken(opts, s.token.c_str()), "token"); !st) return st;
  if (!s.creds.empty())
    if (auto st = check(natsOptions_SetUserCredentialsFromFiles(opts, s.creds.c_str(), nullptr), "creds");
        !st)
      return st;
  if (tls) {
    if (auto st = check(natsOptions_SetSecure(opts, true), "tls"); !st) return st;
    if (!s.tls_ca.empty())
      if (auto st = check(natsOptions_LoadCATrustedCertificates(opts, s.tls_ca.c_str()), "tls_ca"); !st)
        return st;
    if (!s.tls_cert.empty())
      if (auto st = check(natsOptions_LoadCertificatesChain(opts, s.tls_cert.c_str(), s.tls_key.c_str()),
                          "tls_cert");
          !st)
        return st;
  }
  return {};
}

// Connects (libnats reconnects by itself after that), runs a session, and when
// libnats gives the connection up (a refused reconnect) starts over. The first
// connect is ours, not natsOptions_SetRetryOnFailedConnect's: that one closes
// on a refused login without saying why, and the user needs the why.
void FleetLink::Impl::run_worker() {
  milliseconds backoff = kBackoffMin;
  while (!stopping) {
    auto hooks = std::make_unique<ConnHooks>();
    hooks->impl = this;
    natsOptions_SetDisconnectedCB(opts, on_disconnected_cb, hooks.get());
    natsOptions_SetReconnectedCB(opts, on_reconnected_cb, hooks.get());
    natsOptions_SetClosedCB(opts, on_closed_cb, hooks.get());
    natsConnection* c = nullptr;
    natsStatus s = natsConnection_Connect(&c, opts);
    if (s != NATS_OK) {
      report_error("fleet: " + where + ": " + nats_error_text(s));
      pause(backoff, false);
      backoff = std::min(backoff * 2, kBackoffMax);
      continue;
    }
    backoff = kBackoffMin;
    run_session(c);
    {
      std::lock_guard lk(nc_mu);
      nc = nullptr;
    }
    natsConnection_Destroy(c);
    std::unique_lock hk(hooks->mu);
    if (!hooks->cv.wait_for(hk, kClosedWait, [&] { return hooks->closed; })) {
      // libnats still holds the closure: keep it, detached from this link.
      hooks->impl = nullptr;
      hk.unlock();
      (void)hooks.release();
    }
    std::lock_guard lk(mu);
    connected = false;
    session_over = false;
  }
  nats_ReleaseThreadMemory();
}

void FleetLink::Impl::run_session(natsConnection* c) {
  char url[512] = "";
  natsConnection_GetConnectedUrl(c, url, sizeof url);
  {
    std::lock_guard lk(nc_mu);
    nc = c;
  }
  {
    std::lock_guard lk(mu);
    if (stop) return;
    connected = true;
    session_over = false;
    server = url;
    push_locked(Event{.kind = Event::kConnected, .text = url});
  }
  // Two JetStream contexts: ops wait settings.timeout_ms per request; the
  // watcher's consumer may take the server seconds to set up on a big bucket.
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = std::max<int64_t>(settings.timeout_ms, 1);
  jsCtx* js = nullptr;
  jsCtx* wjs = nullptr;
  natsStatus s = natsConnection_JetStream(&js, c, &jo);
  jo.Wait = std::max<int64_t>(settings.timeout_ms, kWatchWaitMs);
  if (s == NATS_OK) s = natsConnection_JetStream(&wjs, c, &jo);
  kvStore* store = s == NATS_OK ? bind(js) : nullptr;
  kvStore* wstore = store ? bind(wjs) : nullptr;
  if (s != NATS_OK) report_error("fleet: " + std::string(url) + ": " + nats_error_text(s));
  if (wstore) {
    // With one value per key the stream holds just the latest of each, so
    // the watcher may read it from the start: the server sets that consumer
    // up much faster than a last-per-subject one (about 1 s against 3.7 s
    // for a million keys with nats-server 2.9).
    bool all = false;
    if (kvStatus* st = nullptr; kvStore_Status(&st, store) == NATS_OK) {
      all = kvStatus_History(st) == 1;
      kvStatus_Destroy(st);
    }
    {
      std::lock_guard lk(mu);
      kv = wstore;
      read_all = all;
      ++resync;
    }
    watch_cv.notify_all();
    for (;;) {
      Op op;
      {
        std::unique_lock lk(mu);
        work_cv.wait(lk, [&] { return stop || session_over || (connected && !ops.empty()); });
        if (stop || session_over) break;
        op = ops.front();
      }
      OpResult r = run_op(js, store, op);
      if (r.done) {
        std::lock_guard lk(mu);
        ops.pop_front();
        last_error.clear();  // a failed op before this one was transient
        push_locked(Event{.kind = Event::kDone, .seq = op.seq, .beaten = r.beaten});
        continue;
      }
      std::string at;
      {
        std::lock_guard lk(mu);
        if (connected) at = server;
      }
      if (!at.empty()) report_error("fleet: " + at + ": " + r.error);
      pause(kRetryPause, true);
    }
    // The watcher lets go of the bucket before it goes away: closing the
    // connection ends its wait at once (kvWatcher_Stop would first ask the
    // server to delete the consumer, which takes the full timeout when the
    // broker is gone).
    {
      std::lock_guard lk(mu);
      kv = nullptr;
    }
    natsConnection_Close(c);
    {
      std::unique_lock lk(mu);
      work_cv.wait(lk, [&] { return !watching; });
    }
  }
  if (wstore) kvStore_Destroy(wstore);
  if (store) kvStore_Destroy(store);
  if (wjs) jsCtx_Destroy(wjs);
  if (js) jsCtx_Destroy(js);
}

// Binds the bucket, creating it when missing; retries until it works, the
// connection closes or the link stops.
kvStore* FleetLink::Impl::bind(jsCtx* js) {
  milliseconds backoff = kBackoffMin;
  for (;;) {
    {
      std::lock_guard lk(mu);
      if (stop || session_over) return nullptr;
    }
    kvStore* store = nullptr;
    natsStatus s = js_KeyValue(&store, js, settings.bucket.c_str());
    if (s == NATS_NOT_FOUND) {
      kvConfig cfg;
      kvConfig_Init(&cfg);
      cfg.Bucket = settings.bucket.c_str();
      cfg.History = 1;
      cfg.StorageType = js_FileStorage;
      cfg.Replicas = settings.replicas;
      s = js_CreateKeyValue(&store, js, &cfg);
    }
    if (s == NATS_OK) {
      clear_error();
      return store;
    }
    std::string why = s == NATS_NO_RESPONDERS ? "JetStream is not enabled on the server (no responders)"
                                              : nats_error_text(s);
    std::string at;
    {
      std::lock_guard lk(mu);
      at = server;
    }
    report_error("fleet: " + at + ": bucket '" + settings.bucket + "': " + why);
    pause(backoff, true);
    backoff = std::min(backoff * 2, kBackoffMax);
  }
}

OpResult FleetLink::Impl::run_op(jsCtx* js, kvStore* store, const Op& op) {
  switch (op.kind) {
    case Op::kPut:
      return put(store, op);
    case Op::kExpire:
      return expire(js, store, op);
    case Op::kDelete:
      break;
  }
  if (natsStatus s = kvStore_Delete(store, op.key.c_str()); s != NATS_OK)
    return {.error = "delete " + op.key + ": " + nats_error_text(s)};
  return {.done = true};
}

// Get, then Create (no key) or Update(last revision) unless the stored record
// wins; a conflict means another node wrote in between: look again.
OpResult FleetLink::Impl::put(kvStore* store, const Op& op) {
  auto mine = decode_fleet_record(op.key, op.value);
  const int len = static_cast<int>(op.value.size());
  for (int attempt = 0; attempt < kConflictRetries; ++attempt) {
    kvEntry* e = nullptr;
    natsStatus s = kvStore_Get(&e, store, op.key.c_str());
    if (s == NATS_OK) {
      std::string_view stored(static_cast<const char*>(kvEntry_Value(e)),
                              static_cast<size_t>(std::max(kvEntry_ValueLen(e), 0)));
      auto existing = decode_fleet_record(op.key, stored);
      uint64_t rev = kvEntry_Revision(e);
      kvEntry_Destroy(e);
      if (mine && existing && fleet_record_wins(*existing, *mine)) return {.done = true, .beaten = true};
      s = kvStore_Update(nullptr, store, op.key.c_str(), op.value.data(), len, rev);
    } else if (s == NATS_NOT_FOUND) {
      s = kvStore_Create(nullptr, store, op.key.c_str(), op.value.data(), len);
    } else {
      return {.error = "put " + op.key + ": " + nats_error_text(s)};
    }
    if (s == NATS_OK) return {.done = true};
    std::string why = nats_error_text(s);
    if (why.find("wrong last sequence") == std::string::npos) return {.error = "put " + op.key + ": " + why};
  }
  return {.error = "put " + op.key + ": the key keeps changing"};
}

// Deletes the key only while it holds an expired record: the delete marker is
// published expecting the revision that was checked, so a longer ban written
// meanwhile by another node is never deleted (kvStore_Delete cannot expect one).
OpResult FleetLink::Impl::expire(jsCtx* js, kvStore* store, const Op& op) {
  const std::string subject = "$KV." + settings.bucket + "." + op.key;
  for (int attempt = 0; attempt < kConflictRetries; ++attempt) {
    kvEntry* e = nullptr;
    natsStatus s = kvStore_Get(&e, store, op.key.c_str());
    if (s == NATS_NOT_FOUND) return {.done = true};
    if (s != NATS_OK) return {.error = "expire " + op.key + ": " + nats_error_text(s)};
    std::string_view stored(static_cast<const char*>(kvEntry_Value(e)),
                            static_cast<size_t>(std::max(kvEntry_ValueLen(e), 0)));
    auto existing = decode_fleet_record(op.key, stored);
    uint64_t rev = kvEntry_Revision(e);
    kvEntry_Destroy(e);
    const int64_t now = ::time(nullptr);
    if (!existing || existing->expiry == 0 || existing->expiry > now) return {.done = true};

    natsMsg* msg = nullptr;
    s = natsMsg_Create(&msg, subject.c_str(), nullptr, nullptr, 0);
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, "KV-Operation", "DEL");
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.ExpectLastSubjectSeq = rev;
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    if (s == NATS_OK) s = js_PublishMsg(&ack, js, msg, &po, &code);
    std::string why = s == NATS_OK ? "" : nats_error_text(s);
    jsPubAck_Destroy(ack);
    natsMsg_Destroy(msg);
    if (s == NATS_OK) return {.done = true};
    if (code != JSStreamWrongLastSequenceErr && why.find("wrong last sequence") == std::string::npos)
      return {.error = "expire " + op.key + ": " + why};
  }
  return {.error = "expire " + op.key + ": the key keeps changing"};
}

// Watches the bound bucket; a new watch (number + 1) for every bind and
// reconnect, and after a watch fails.
void FleetLink::Impl::run_watcher() {
  uint64_t seen = 0;
  bool again = false;
  for (;;) {
    kvStore* store = nullptr;
    uint64_t gen = 0;
    kvWatchOptions wo;
    kvWatchOptions_Init(&wo);
    {
      std::unique_lock lk(mu);
      watch_cv.wait(lk, [&] { return stop || (kv && (again || resync != seen)); });
      if (stop) break;
      store = kv;
      wo.IncludeHistory = read_all;
      gen = seen = resync;
      again = false;
      watching = true;
    }
    kvWatcher* w = nullptr;
    natsStatus s = kvStore_WatchAll(&w, store, &wo);
    uint64_t id = 0;
    {
      std::lock_guard lk(mu);
      if (s == NATS_OK && !stop && kv == store) {
        id = ++watch;
        snapshot_done = false;
      }
    }
    if (id != 0) {
      again = !pump(w, id, gen);
    } else if (s != NATS_OK) {
      again = true;
      std::string url;
      {
        std::lock_guard lk(mu);
        url = server;
      }
      report_error("fleet: " + url + ": watching the bucket: " + nats_error_text(s) + " (trying again)");
    }
    if (w) kvWatcher_Destroy(w);
    {
      std::lock_guard lk(mu);
      watching = false;
    }
    work_cv.notify_all();
    if (again) {
      std::unique_lock lk(mu);
      watch_cv.wait_for(lk, kRetryPause, [&] { return stop; });
    }
  }
  nats_ReleaseThreadMemory();
}

// Moves entries into the event queue in batches: one lock and at most one
// eventfd write per batch. False when the watch failed (not stopped or resynced).
bool FleetLink::Impl::pump(kvWatcher* w, uint64_t id, uint64_t gen) {
  std::vector<Event> batch;
  batch.reserve(kBatch);
  for (;;) {
    if (stopping || resync != gen) {
      push_batch(batch);
      return true;
    }
    kvEntry* e = nullptr;
    natsStatus s = kvWatcher_Next(&e, w, batch.empty() ? kIdleNextMs : 1);
    if (s == NATS_TIMEOUT) {
      push_batch(batch);
      continue;
    }
    if (s != NATS_OK) {
      push_batch(batch);
      std::lock_guard lk(mu);
      return stop || kv == nullptr;
    }
    if (!e) {  // the end of the initial values
      push_batch(batch);
      std::lock_guard lk(mu);
      snapshot_done = true;
      push_locked(Event{.kind = Event::kSnapshotDone, .watch = id});
      continue;
    }
    Event ev{.kind = Event::kEntry};
    ev.key = kvEntry_Key(e);
    if (int n = kvEntry_ValueLen(e); n > 0) ev.value.assign(static_cast<const char*>(kvEntry_Value(e)), n);
    ev.deleted = kvEntry_Operation(e) != kvOp_Put;
    ev.revision = kvEntry_Revision(e);
    ev.created_ns = kvEntry_Created(e);
    ev.watch = id;
    kvEntry_Destroy(e);
    batch.push_back(std::move(ev));
    if (batch.size() >= kBatch) push_batch(batch);
  }
}

void FleetLink::Impl::shutdown() {
  {
    std::lock_guard lk(mu);
    stop = true;
    stopping = true;
  }
  work_cv.notify_all();
  watch_cv.notify_all();
  {
    // Cuts a request or a watch in flight short (the worker destroys the connection).
    std::lock_guard lk(nc_mu);
    if (nc) natsConnection_Close(nc);
  }
  if (worker_thread.joinable()) worker_thread.join();
  if (watcher_thread.joinable()) watcher_thread.join();
}

Result<std::unique_ptr<FleetLink>> FleetLink::start(const FleetSettings& s) {
  auto impl = std::make_unique<Impl>();
  impl->settings = s;
  if (auto st = impl->make_options(); !st) return st.error();
  impl->efd.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!impl->efd.valid()) return make_error(errno, std::string("fleet: eventfd: ") + std::strerror(errno));
  Impl* p = impl.get();
  p->worker_thread = std::thread([p] { p->run_worker(); });
  p->watcher_thread = std::thread([p] { p->run_watcher(); });
  return std::unique_ptr<FleetLink>(new FleetLink(std::move(impl)));
}

FleetLink::FleetLink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FleetLink::~FleetLink() { impl_->shutdown(); }

int FleetLink::event_fd() const { return impl_->efd.get(); }

void FleetLink::send(Op op) {
  {
    std::lock_guard lk(impl_->mu);
    impl_->ops.push_back(std::move(op));
  }
  impl_->work_cv.notify_all();
}

std::vector<FleetLink::Event> FleetLink::take(size_t max) {
  std::vector<Event> out;
  std::lock_guard lk(impl_->mu);
  size_t n = std::min(max, impl_->events.size());
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(std::move(impl_->events.front()));
    impl_->events.pop_front();
  }
  if (impl_->events.empty()) {
    uint64_t count;
    ssize_t r = ::read(impl_->efd.get(), &count, sizeof count);
    (void)r;  // EAGAIN: already clear
  }
  return out;
}

FleetLink::Status FleetLink::status() const {
  std::lock_guard lk(impl_->mu);
  Status st;
  st.connected = impl_->connected;
  st.server = impl_->server;
  st.last_error = impl_->last_error;
  st.queued = impl_->ops.size();
  st.watch = impl_->watch;
  st.snapshot_done = impl_->snapshot_done;
  return st;
}

}  // namespace xdpban
