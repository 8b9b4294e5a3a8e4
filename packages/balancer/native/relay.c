/*
 * moat_relay: the balancer's byte relay in C, on a thread of its own (docs/balancer.md,
 * "Relay paths"). Node-API only (node_api.h from the node-api-headers package), so one build
 * loads in any Node with Node-API 8.
 *
 * JavaScript keeps everything that decides anything: accept, upstream choice, connect, the
 * greeting gate, PROXY, health, metrics. Once a client and its upstream are paired, relay()
 * takes a duplicate of each socket descriptor (the caller then closes its libuv handles) and
 * this thread moves the bytes: one epoll set, level-triggered, a 16 KiB buffer per direction,
 * the same rules as handle-relay.ts:
 *   - backpressure: bytes a write could not place stay in the direction's buffer, reading from
 *     that direction's source stops until they are written (EPOLLOUT on the sink);
 *   - half-close: EOF from one side is shutdown(SHUT_WR) of the other once that direction's
 *     buffer is empty; when both sides have sent EOF and both buffers are empty, both sockets
 *     are closed;
 *   - an error on either side (a reset, a failed write) or the idle time-out closes both;
 *   - kill(id) closes a session at once (the proxy closing).
 * Each session's end is reported to JavaScript once, with its id, through a thread-safe
 * function (the proxy then releases the upstream's connection count).
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE 16384
#define MAX_EVENTS 256

typedef struct session session;

/* One socket of a session: 0 = the client, 1 = the upstream. */
typedef struct side {
  int fd;
  uint32_t mask; /* epoll interest now registered; 0: not in the epoll set */
  int eof;       /* read returned 0: the peer sent its FIN */
  int shut;      /* shutdown(SHUT_WR) done on this socket */
} side;

/* Bytes read from sides[d] and not yet written to sides[1 - d]. */
typedef struct dir {
  char *buf;
  size_t off, len;
} dir;

struct session {
  side sides[2];
  dir dirs[2];
  uint32_t id;
  uint32_t slot, gen; /* its place in the relay thread's table, and that place's generation */
  int64_t idle_ms;
  int64_t last_active_ms;
  session *next_new; /* handed over by relay(), not yet in the table */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static session *incoming = NULL; /* under lock */
static uint32_t *kills = NULL;   /* under lock */
static size_t kills_len = 0, kills_cap = 0;
static int64_t min_idle_ms = INT64_MAX; /* under lock: the shortest idle time-out seen */

static int epfd = -1, evfd = -1;
static napi_threadsafe_function tsfn = NULL;
static napi_ref on_done_ref = NULL;
static uint32_t next_id = 1; /* JS thread only */

/*
 * Relay thread only: the live sessions by slot. An epoll event carries slot, generation and
 * side, never a pointer: a closed socket can still report an event (its file stays in the
 * epoll set while another descriptor of it is open, e.g. in a child between fork and exec),
 * and a slot's generation changes when it is reused, so such an event finds nothing.
 */
static session **slots = NULL;
static uint32_t *gens = NULL;
static uint32_t nslots = 0, slots_cap = 0;
static uint32_t *free_slots = NULL;
static uint32_t nfree = 0;
static size_t active_count = 0;
/* How often to sweep for idle sessions: a quarter of the shortest idle time-out seen, 5 ms to 1 s. */
static int64_t sweep_every_ms = 1000;
#define EVFD_TAG UINT64_MAX

static uint64_t event_tag(session *s, int i) {
  return ((uint64_t)s->gen << 32) | ((uint64_t)s->slot << 1) | (uint64_t)i;
}

/* A slot for s, or -1 when out of memory. */
static int place(session *s) {
  uint32_t idx;
  if (nfree > 0) {
    idx = free_slots[--nfree];
  } else {
    if (nslots == slots_cap) {
      uint32_t cap = slots_cap ? slots_cap * 2 : 256;
      if (cap > (1u << 30)) return -1;
      session **ns = realloc(slots, cap * sizeof *ns);
      if (!ns) return -1;
      slots = ns;
      uint32_t *ng = realloc(gens, cap * sizeof *ng);
      if (!ng) return -1;
      gens = ng;
      uint32_t *nf = realloc(free_slots, cap * sizeof *nf);
      if (!nf) return -1;
      free_slots = nf;
      for (uint32_t j = slots_cap; j < cap; j++) gens[j] = 0;
      slots_cap = cap;
    }
    idx = nslots++;
  }
  gens[idx]++;
  slots[idx] = s;
  s->slot = idx;
  s->gen = gens[idx];
  active_count++;
  return 0;
}

/* Any thread: ask the relay thread to close session `id`, and wake it. */
static void queue_kill(uint32_t id) {
  pthread_mutex_lock(&lock);
  if (kills_len == kills_cap) {
    size_t cap = kills_cap ? kills_cap * 2 : 16;
    uint32_t *k = realloc(kills, cap * sizeof *k);
    if (k) { kills = k; kills_cap = cap; }
  }
  if (kills_len < kills_cap) kills[kills_len++] = id;
  pthread_mutex_unlock(&lock);
  uint64_t one = 1;
  ssize_t w = write(evfd, &one, sizeof one);
  (void)w;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t wanted_mask(session *s, int i) {
  uint32_t m = 0;
  if (!s->sides[i].eof && s->dirs[i].len == 0) m |= EPOLLIN;
  if (s->dirs[1 - i].len > 0) m |= EPOLLOUT;
  return m;
}

/* Close both sockets, report the end, free the session. Callers must not touch s afterwards. */
static void end_session(session *s) {
  close(s->sides[0].fd);
  close(s->sides[1].fd);
  napi_call_threadsafe_function(tsfn, (void *)(uintptr_t)s->id, napi_tsfn_nonblocking);
  free(s->dirs[0].buf);
  free(s);
}

/* end_session for a session in the table. */
static void close_session(session *s) {
  slots[s->slot] = NULL;
  free_slots[nfree++] = s->slot;
  active_count--;
  end_session(s);
}

/* Write the pending bytes of direction d to its sink. Returns -1 on a write error. */
static int flush(session *s, int d) {
  dir *q = &s->dirs[d];
  side *to = &s->sides[1 - d];
  while (q->len > 0) {
    ssize_t n = send(to->fd, q->buf + q->off, q->len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return -1;
    }
    q->off += (size_t)n;
    q->len -= (size_t)n;
  }
  q->off = 0;
  /* Everything the source sent is out: pass its FIN on. */
  if (s->sides[d].eof && !to->shut) {
    to->shut = 1;
    if (shutdown(to->fd, SHUT_WR) < 0 && errno != ENOTCONN) return -1;
  }
  return 0;
}

/* Read once from sides[d] and write it on. Returns -1 on an error, 1 on progress, 0 if nothing. */
static int pump(session *s, int d) {
  dir *q = &s->dirs[d];
  side *from = &s->sides[d];
  ssize_t n;
  do n = recv(from->fd, q->buf, BUF_SIZE, 0); while (n < 0 && errno == EINTR);
  if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
  if (n == 0) from->eof = 1;
  q->off = 0;
  q->len = (size_t)n;
  return flush(s, d) < 0 ? -1 : 1;
}

/*
 * Register what side i waits for now. Nothing (a socket in backpressure, or done): out of the
 * set, because a hang-up is reported whatever the mask, and would wake us again and again
 * while the other socket drains.
 */
static int set_mask(session *s, int i, uint32_t m) {
  side *sd = &s->sides[i];
  if (m == sd->mask) return 0;
  struct epoll_event ev = {.events = m, .data.u64 = event_tag(s, i)};
  int op = sd->mask == 0 ? EPOLL_CTL_ADD : m == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  if (epoll_ctl(epfd, op, sd->fd, &ev) < 0) return -1;
  sd->mask = m;
  return 0;
}

static int update_masks(session *s) {
  for (int i = 0; i < 2; i++) {
    if (set_mask(s, i, wanted_mask(s, i)) < 0) return -1;
  }
  return 0;
}

static void on_event(uint64_t tag, uint32_t events) {
  uint32_t idx = (uint32_t)(tag >> 1) & 0x7fffffffu, gen = (uint32_t)(tag >> 32);
  int i = (int)(tag & 1);
  if (idx >= nslots || slots[idx] == NULL || gens[idx] != gen) return; /* a closed session's leftover */
  session *s = slots[idx];
  side *sd = &s->sides[i];
  int progress = 0;
  if (events & EPOLLERR) {
    close_session(s);
    return;
  }
  if ((events & (EPOLLOUT | EPOLLHUP)) && s->dirs[1 - i].len > 0) {
    size_t before = s->dirs[1 - i].len;
    if (flush(s, 1 - i) < 0) { close_session(s); return; }
    progress |= s->dirs[1 - i].len != before;
  }
  if ((events & (EPOLLIN | EPOLLHUP)) && !sd->eof && s->dirs[i].len == 0) {
    int r = pump(s, i);
    if (r < 0) { close_session(s); return; }
    progress |= r;
  }
  if (s->sides[0].eof && s->sides[1].eof && s->dirs[0].len == 0 && s->dirs[1].len == 0) {
    close_session(s);
    return;
  }
  if (progress) s->last_active_ms = now_ms();
  if (update_masks(s) < 0) close_session(s);
}

static void take_over_new_and_kills(void) {
  pthread_mutex_lock(&lock);
  session *n = incoming;
  incoming = NULL;
  uint32_t *k = kills;
  size_t klen = kills_len;
  kills = NULL;
  kills_len = kills_cap = 0;
  int64_t every = min_idle_ms / 4;
  pthread_mutex_unlock(&lock);
  sweep_every_ms = every < 5 ? 5 : every > 1000 ? 1000 : every;
  while (n) {
    session *next = n->next_new;
    if (place(n) < 0) {
      end_session(n); /* no room to track it: ended at once, reported like any other */
    } else {
      if (update_masks(n) < 0) close_session(n);
    }
    n = next;
  }
  for (size_t j = 0; j < klen; j++) {
    for (uint32_t x = 0; x < nslots; x++) {
      if (slots[x] && slots[x]->id == k[j]) { close_session(slots[x]); break; }
    }
  }
  free(k);
}

static void sweep_idle(int64_t now) {
  for (uint32_t x = 0; x < nslots; x++) {
    session *s = slots[x];
    if (s && now - s->last_active_ms >= s->idle_ms) close_session(s);
  }
}

static void *relay_thread(void *arg) {
  (void)arg;
  struct epoll_event events[MAX_EVENTS];
  int64_t last_sweep = now_ms();
  for (;;) {
    /*
     * With sessions, wake at least every quarter of the shortest idle time-out (at most every
     * second) to sweep them. Without, sleep until relay() hands one over (it wakes us).
     */
    int n = epoll_wait(epfd, events, MAX_EVENTS, active_count > 0 ? (int)sweep_every_ms : -1);
    if (n < 0 && errno != EINTR) break;
    /* Reset the wake-up counter before taking the list: a relay() after this wakes us again. */
    for (int j = 0; j < n; j++) {
      if (events[j].data.u64 == EVFD_TAG) {
        uint64_t v;
        ssize_t r = read(evfd, &v, sizeof v);
        (void)r;
      }
    }
    take_over_new_and_kills();
    for (int j = 0; j < n; j++) {
      if (events[j].data.u64 != EVFD_TAG) on_event(events[j].data.u64, events[j].events);
    }
    int64_t now = now_ms();
    if (now - last_sweep >= sweep_every_ms) {
      sweep_idle(now);
      last_sweep = now;
    }
  }
  return NULL;
}

/* Runs on the JS thread for each ended session. */
static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  (void)context;
  if (env == NULL || on_done_ref == NULL) return;
  napi_value cb, global, arg;
  if (napi_get_reference_value(env, on_done_ref, &cb) != napi_ok || cb == NULL) return;
  napi_get_global(env, &global);
  napi_create_uint32(env, (uint32_t)(uintptr_t)data, &arg);
  napi_call_function(env, global, cb, 1, &arg, NULL);
}

static napi_value throw_errno(napi_env env, const char *what) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

/* init(onDone): starts the relay thread (once); onDone(id) is called for every ended session. */
static napi_value js_init(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "init(onDone): onDone must be a function");
    return NULL;
  }
  if (tsfn != NULL) {
    napi_throw_error(env, NULL, "init: already started");
    return NULL;
  }
  napi_create_reference(env, argv[0], 1, &on_done_ref);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return throw_errno(env, "epoll_create1");
  evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (evfd < 0) return throw_errno(env, "eventfd");
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EVFD_TAG};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev) < 0) return throw_errno(env, "epoll_ctl");
  napi_value name;
  napi_create_string_utf8(env, "moat_relay", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, call_js, &tsfn) != napi_ok) {
    napi_throw_error(env, NULL, "init: napi_create_threadsafe_function failed");
    return NULL;
  }
  /* The relay must not keep the process alive by itself. */
  napi_unref_threadsafe_function(env, tsfn);
  pthread_t th;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int err = pthread_create(&th, &attr, relay_thread, NULL);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    errno = err;
    return throw_errno(env, "pthread_create");
  }
  return NULL;
}

static int get_int(napi_env env, napi_value v, int64_t *out) {
  return napi_get_value_int64(env, v, out) == napi_ok;
}

/*
 * relay(clientFd, upstreamFd, greeting, idleTimeoutMs) → id, or 0 when the session could not
 * be set up (nothing changed then: the caller relays it itself). The descriptors are
 * duplicated; the caller closes its own handles right after. The greeting is written to the
 * client first.
 */
static napi_value js_relay(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t cfd, ufd, idle;
  void *greeting = NULL;
  size_t glen = 0;
  bool is_buffer = false;
  if (tsfn == NULL || argc < 4 || !get_int(env, argv[0], &cfd) || !get_int(env, argv[1], &ufd) || !get_int(env, argv[3], &idle) ||
      napi_is_buffer(env, argv[2], &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, argv[2], &greeting, &glen) != napi_ok ||
      cfd < 0 || ufd < 0 || idle < 1 || glen > BUF_SIZE) {
    napi_throw_type_error(env, NULL, "relay(clientFd, upstreamFd, greeting, idleTimeoutMs): bad arguments, or init() not called");
    return NULL;
  }
  napi_create_uint32(env, 0, &result);
  session *s = calloc(1, sizeof *s);
  char *bufs = malloc(2 * BUF_SIZE);
  if (!s || !bufs) { free(s); free(bufs); return result; }
  s->dirs[0].buf = bufs;
  s->dirs[1].buf = bufs + BUF_SIZE;
  s->sides[0].fd = fcntl(cfd, F_DUPFD_CLOEXEC, 0);
  s->sides[1].fd = fcntl(ufd, F_DUPFD_CLOEXEC, 0);
  if (s->sides[0].fd < 0 || s->sides[1].fd < 0) goto fail;
  /* The greeting goes first; what the client's socket cannot take now waits in its direction. */
  size_t off = 0;
  while (off < glen) {
    ssize_t n = send(s->sides[0].fd, (char *)greeting + off, glen - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) goto fail;
    off += (size_t)n;
  }
  if (off < glen) {
    memcpy(s->dirs[1].buf, (char *)greeting + off, glen - off);
    s->dirs[1].len = glen - off;
  }
  s->idle_ms = idle;
  s->last_active_ms = now_ms();
  uint32_t id = s->id = next_id++;
  if (next_id == 0) next_id = 1;
  /* From here on the session is the relay thread's: it adds the sockets to its epoll set. */
  pthread_mutex_lock(&lock);
  int wake = incoming == NULL; /* otherwise a wake-up is already on its way */
  s->next_new = incoming;
  incoming = s;
  if (idle < min_idle_ms) min_idle_ms = idle;
  pthread_mutex_unlock(&lock);
  if (wake) {
    uint64_t one = 1;
    ssize_t w = write(evfd, &one, sizeof one);
    (void)w;
  }
  napi_create_uint32(env, id, &result);
  return result;
fail:
  if (s->sides[0].fd >= 0) close(s->sides[0].fd);
  if (s->sides[1].fd >= 0) close(s->sides[1].fd);
  free(bufs);
  free(s);
  return result;
}

/* kill(id): close that session now (its end is still reported through onDone). */
static napi_value js_kill(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t id;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &id) != napi_ok) {
    napi_throw_type_error(env, NULL, "kill(id): id must be a number");
    return NULL;
  }
  queue_kill(id);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
    {"relay", NULL, js_relay, NULL, NULL, NULL, napi_default, NULL},
    {"kill", NULL, js_kill, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
