/*
 * A UDP socket for TFTP transfers that hands whole windows to the kernel in one sendmmsg(2) and
 * drains ACKs with recvmmsg(2), driven by a uv_poll on Node's own loop.
 *
 * Why this exists: node:dgram costs a few microseconds of JS and C++ per datagram (a SendWrap,
 * an address object, a 64 KiB receive allocation), which is the whole budget of a 1468-byte block
 * at 150k packets/s. The protocol (windows, ACK arithmetic, timers, retransmission) stays in
 * TypeScript (src/tftp/transfer.ts); this file only moves bytes. It is optional: when it is not
 * built the server uses node:dgram and behaves the same, only slower.
 *
 * One socket per transfer, connected to the client's TID so the kernel drops everybody else.
 * JS API (see src/tftp/transfer-socket.ts):
 *   open(host, port, sndbuf, rcvbuf) -> handle        bind (port 0 = ephemeral)
 *   connect(handle, host, port)
 *   start(handle, onMessage(op, n, buf?), onError(code), onWritable())
 *   send(handle, buffers, first, count) -> datagrams taken (fewer when the send buffer is full)
 *   waitWritable(handle)                              onWritable fires once when room appears
 *   arm(handle, packets, count, baseWire, window) -> false when it cannot take a run yet
 *   disarm(handle) -> [sent, acked] | undefined       takes an armed run back
 *   runAcked(handle) -> blocks ACKed in the run, or -1
 *   runRtt(handle) -> mean round trip (ms) of the ACKs runs answered since the last call, or -1
 *   close(handle)
 *   readCached(fd, buffers, first, count, position) -> bytes, or -1 when none is in the page cache
 * onMessage gets an ACK as (4, block) without allocating; anything else as (opcode, code, copy);
 * the end of an armed run as (0, packets of it sent, blocks ACKed past its base, ACK or -1).
 *
 * readCached is preadv2(RWF_NOWAIT): a file chunk already in the page cache is copied inline
 * instead of through the thread pool, whose completion wakes the loop from another CPU (on a VM
 * that wakeup costs more than the copy); a chunk that would touch the disk still goes to the pool.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <node_api.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#define RECV_BATCH 32
#define RECV_SLOT 1024
#define SEND_MAX 256
/* Batches drained per wakeup: enough for any window's ACKs, bounded so one busy client cannot
 * keep the loop from everyone else. */
#define RECV_ROUNDS 4
/* UDP GSO limits: one super-datagram carries at most 64 segments and 64 KiB of UDP payload. */
#define GSO_MAX_SEGS 64
#define GSO_MAX_BYTES 65000
/* Packets one armed run may hold: a file chunk's worth (src/tftp/data-blocks.ts reads at most 1024
 * blocks per chunk). */
#define RUN_MAX 1024
/* Runs at least this long get a thread of their own (see relay_main); shorter ones (a boot
 * loader, a config) are relayed from the loop. */
#define THREAD_MIN_RUN 128

/* A datagram the relay thread read that JS must see (or, with len 0, a socket error). */
typedef struct Pending {
  struct Pending* next;
  int err;
  unsigned int len;
  unsigned char data[];
} Pending;

typedef struct {
  int fd;
  int family;
  int refs; /* the JS handle, the uv_poll_t and the uv_async_t; freed when all are gone */
  int closed;
  int started;
  int events;
  /* UDP GSO: adjacent equal-size packets (a window laid out block after block in one buffer) go
   * down the stack as one skb and are cut into datagrams at the device. Off after the kernel
   * refused it once. */
  int gso;
  uv_poll_t poll;
  /* The relay thread. `mu` guards the run, `closed`, `ended`, the pending list and `thread_done`
   * while a thread exists; everything else is the loop thread's. */
  uv_async_t async;
  pthread_mutex_t mu;
  pthread_t thread;
  int thread_on;     /* created and not yet joined */
  int thread_done;   /* it has returned; the async callback joins it */
  int thread_wanted; /* armed inside a callback: started when the callback returns */
  int busy;          /* inside on_poll or on_async */
  int want_writable;
  /* A run the thread ended: `on` until JS hears of it (on_async, or disarm, which leaves
   * `taken` so that the ACK and error still reach JS). */
  struct {
    int on, taken, ack, err;
    uint32_t sent, acked;
  } ended;
  Pending *pend, *pend_tail;
  napi_env env;
  napi_ref on_message;
  napi_ref on_error;
  napi_ref on_writable;
  napi_ref resource;
  napi_async_context actx;
  unsigned char rbuf[RECV_BATCH][RECV_SLOT];
  struct iovec riov[RECV_BATCH];
  struct mmsghdr rmsgs[RECV_BATCH];
  struct iovec siov[SEND_MAX];
  struct mmsghdr smsgs[SEND_MAX];
  /* Packets each message carries, their segment size, and its UDP_SEGMENT control message. */
  uint32_t sparts[SEND_MAX];
  size_t sseg[SEND_MAX];
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } sctl[SEND_MAX];
  /* The armed run (see js_arm): block numbers are counted from the ACKed block at arming time
   * (`base`), so run[i] is block outstanding+1+i. */
  struct {
    int armed;
    uint16_t base;
    uint32_t outstanding, acked, sent, end, window;
    /* Round trips of routine ACKs (from the send of the window's last packet), for JS's timer. */
    uint64_t last_send_ns, rtt_sum_ns;
    uint32_t rtt_n;
    napi_ref keep; /* the JS array holding the packets' memory */
    struct iovec pkts[RUN_MAX];
  } run;
} Sock;

static void release(Sock* s) {
  if (--s->refs == 0) free(s);
}

static void throw_errno(napi_env env, int err, const char* what) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, uv_err_name(-err), msg);
}

/* Parses an IPv4 or IPv6 literal; 0 when it is neither (the caller falls back to node:dgram). */
static socklen_t make_addr(const char* host, int port, struct sockaddr_storage* ss) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in* a4 = (struct sockaddr_in*)ss;
  struct sockaddr_in6* a6 = (struct sockaddr_in6*)ss;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    return sizeof *a4;
  }
  if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    return sizeof *a6;
  }
  return 0;
}

static int get_string(napi_env env, napi_value v, char* out, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, out, cap, &len) != napi_ok || len + 1 >= cap) return 0;
  return 1;
}

static Sock* get_sock(napi_env env, napi_value v) {
  void* p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, "EINVAL", "not a udp_batch handle");
    return NULL;
  }
  return (Sock*)p;
}

/* Unpacks `want` arguments whose first is a handle; NULL (with a JS exception) when they are not. */
static Sock* sock_args(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != want) {
    napi_throw_type_error(env, "EINVAL", "wrong number of arguments");
    return NULL;
  }
  return get_sock(env, argv[0]);
}

static void on_poll_closed(uv_handle_t* h) {
  Sock* s = (Sock*)h->data;
  close(s->fd);
  s->fd = -1;
  release(s);
}

static void on_async_closed(uv_handle_t* h) {
  Sock* s = (Sock*)h->data;
  pthread_mutex_destroy(&s->mu);
  release(s);
}

static void free_pending(Pending* p) {
  while (p) {
    Pending* next = p->next;
    free(p);
    p = next;
  }
}

/* Waits for the relay thread to return: it is blocked in recvmmsg, which shutdown() ends. Only
 * when closing, so the socket is not needed afterwards. */
static void stop_thread(Sock* s) {
  if (!s->thread_on) return;
  shutdown(s->fd, SHUT_RDWR);
  pthread_join(s->thread, NULL);
  s->thread_on = 0;
}

/* Stops everything; safe to call twice. Callbacks are dropped here so a closed socket never calls
 * into JS again and JS can collect what they closed over. */
static void shut(napi_env env, Sock* s) {
  if (s->closed) return;
  pthread_mutex_lock(&s->mu);
  s->closed = 1;
  s->run.armed = 0;
  pthread_mutex_unlock(&s->mu);
  stop_thread(s);
  free_pending(s->pend);
  s->pend = s->pend_tail = NULL;
  uv_poll_stop(&s->poll);
  if (s->on_message) napi_delete_reference(env, s->on_message);
  if (s->on_error) napi_delete_reference(env, s->on_error);
  if (s->on_writable) napi_delete_reference(env, s->on_writable);
  if (s->started) napi_async_destroy(env, s->actx);
  if (s->resource) napi_delete_reference(env, s->resource);
  if (s->run.keep) napi_delete_reference(env, s->run.keep);
  s->on_message = s->on_error = s->on_writable = s->resource = s->run.keep = NULL;
  uv_close((uv_handle_t*)&s->poll, on_poll_closed);
  uv_close((uv_handle_t*)&s->async, on_async_closed);
}

static void on_poll(uv_poll_t* h, int status, int events);

/* What the poll watches: nothing readable while the relay thread owns the socket's reads. */
static void poll_update(Sock* s) {
  if (s->closed || !s->started) return;
  int ev = (s->thread_on ? 0 : UV_READABLE) | (s->want_writable ? UV_WRITABLE : 0);
  s->events = ev;
  if (ev) uv_poll_start(&s->poll, ev, on_poll);
  else uv_poll_stop(&s->poll);
}

static void finalize(napi_env env, void* data, void* hint) {
  (void)hint;
  Sock* s = (Sock*)data;
  shut(env, s);
  release(s);
}

/* Calls a stored JS function the way Node calls event handlers: in the socket's async context,
 * microtasks drained afterwards, a throw reported as an uncaught exception. */
static void call_js(Sock* s, napi_ref ref, size_t argc, napi_value* argv) {
  napi_env env = s->env;
  napi_value fn, recv, res;
  if (!ref || napi_get_reference_value(env, ref, &fn) != napi_ok || fn == NULL) return;
  napi_get_global(env, &recv);
  if (napi_make_callback(env, s->actx, recv, fn, argc, argv, &res) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
}

static void report_error(Sock* s, int err) {
  napi_value code;
  napi_create_string_utf8(s->env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code);
  call_js(s, s->on_error, 1, &code);
}

static int64_t send_packets(Sock* s, const struct iovec* pkts, uint32_t count);

/* Lets go of the JS array that keeps the run's packets alive: JS may reuse their memory. */
static void drop_run_packets(Sock* s) {
  if (s->run.keep) napi_delete_reference(s->env, s->run.keep);
  s->run.keep = NULL;
}

/* Packets of the run sent so far (the window that was out when it was armed is not the run's). */
static uint32_t run_sent(const Sock* s) {
  return s->run.sent - s->run.outstanding;
}

/* The run is over: onMessage(0, packets of it sent, blocks ACKed past its base, the ACK that ended
 * it or -1), then its error, if any. JS takes the transfer back from there, and sees that ACK only
 * after it knows where the run left off. */
static void tell_run_ended(Sock* s, uint32_t sent, uint32_t acked, int ack, int err) {
  s->run.armed = 0;
  drop_run_packets(s);
  napi_value argv[4];
  napi_create_int32(s->env, 0, &argv[0]);
  napi_create_uint32(s->env, sent, &argv[1]);
  napi_create_uint32(s->env, acked, &argv[2]);
  napi_create_int32(s->env, ack, &argv[3]);
  call_js(s, s->on_message, 4, argv);
  if (err && !s->closed) report_error(s, err);
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* An ACK while a run is armed. The ACK of the window's last block sends the next window of the
 * run, with no call into JS: that call, per block, was most of lockstep's cost. Anything else (a
 * gap, a repeat, a stale block number), a full send buffer, an error or the run's end ends the
 * run: returns 1, with the ACK JS must still see (or -1) and an errno (or 0). No JS here: the
 * relay thread runs this too. */
static int run_step(Sock* s, uint16_t block, int* ack, int* err) {
  *ack = -1;
  *err = 0;
  uint32_t r = (uint16_t)(block - s->run.base);
  /* Only the ACK of the last block sent is routine: one short of it means the client saw a gap
   * (RFC 7440: go back to it), which is JS's to handle, as are repeats and stale numbers. */
  if (r != s->run.sent || r <= s->run.acked) {
    *ack = block;
    return 1;
  }
  s->run.acked = r;
  uint64_t now = now_ns();
  if (s->run.last_send_ns) {
    s->run.rtt_sum_ns += now - s->run.last_send_ns;
    s->run.rtt_n++;
  }
  s->run.last_send_ns = 0;
  uint32_t target = r + s->run.window < s->run.end ? r + s->run.window : s->run.end;
  if (target > s->run.sent) {
    uint32_t want = target - s->run.sent;
    int64_t got = send_packets(s, &s->run.pkts[s->run.sent - s->run.outstanding], want);
    if (got < 0) {
      *err = (int)-got;
      return 1;
    }
    s->run.sent += (uint32_t)got;
    s->run.last_send_ns = now;
    /* A full send buffer: JS queues the rest and waits for room, as it does for its own sends. */
    if ((uint32_t)got < want) return 1;
  }
  return s->run.sent == s->run.end;
}

/* run_step from the loop thread: an ended run goes straight to JS. */
static void run_ack(Sock* s, uint16_t block) {
  int ack, err;
  if (run_step(s, block, &ack, &err)) tell_run_ended(s, run_sent(s), s->run.acked, ack, err);
}

/* One datagram from the client, on the loop thread. */
static void deliver(Sock* s, const unsigned char* b, unsigned int len) {
  if (len < 4) return;
  napi_value argv[3];
  int op = (b[0] << 8) | b[1];
  if (op == 4) {
    if (s->run.armed) {
      run_ack(s, (uint16_t)((b[2] << 8) | b[3]));
      return;
    }
    napi_create_int32(s->env, op, &argv[0]);
    napi_create_int32(s->env, (b[2] << 8) | b[3], &argv[1]);
    call_js(s, s->on_message, 2, argv);
  } else {
    void* copy;
    napi_create_int32(s->env, op, &argv[0]);
    napi_create_int32(s->env, (b[2] << 8) | b[3], &argv[1]);
    napi_create_buffer_copy(s->env, len, b, &copy, &argv[2]);
    call_js(s, s->on_message, 3, argv);
  }
}

/* Relay thread, under mu: a datagram (or an error) for JS, in arrival order. */
static void pend_push(Sock* s, const unsigned char* b, unsigned int len, int err) {
  Pending* p = (Pending*)malloc(sizeof(Pending) + len);
  if (!p) return; /* the client's retransmission covers a datagram lost here */
  p->next = NULL;
  p->err = err;
  p->len = len;
  if (len) memcpy(p->data, b, len);
  if (s->pend_tail) s->pend_tail->next = p;
  else s->pend = p;
  s->pend_tail = p;
}

/* Relay thread, under mu: the run ends; the loop thread tells JS once this thread has returned. */
static void thread_end_run(Sock* s, int ack, int err) {
  s->ended.on = 1;
  s->ended.sent = run_sent(s);
  s->ended.acked = s->run.acked;
  s->ended.ack = ack;
  s->ended.err = err;
  s->run.armed = 0;
}

/*
 * A long run's own thread: blocked in recvmmsg on the transfer's socket, it answers each routine
 * ACK with the next window, as a forked tftpd would, without waking Node's loop (an epoll round,
 * the loop's phases and a handle scope per block were what was left of lockstep's cost). The
 * first datagram that is not a routine ACK ends the run; it, and whatever else was read, goes to
 * the loop thread in order once this thread has returned. Meanwhile the loop does not read the
 * socket; JS may disarm at any time (the run's state is under mu) and may send.
 */
static void* relay_main(void* arg) {
  Sock* s = (Sock*)arg;
  pthread_mutex_lock(&s->mu);
  while (s->run.armed && !s->closed) {
    pthread_mutex_unlock(&s->mu);
    int n = recvmmsg(s->fd, s->rmsgs, RECV_BATCH, MSG_WAITFORONE, NULL);
    int e = errno;
    pthread_mutex_lock(&s->mu);
    if (s->closed || n == 0) break; /* 0: shutdown() by close */
    if (n < 0) {
      if (e == EINTR || e == EAGAIN || e == EWOULDBLOCK) continue;
      if (s->run.armed) thread_end_run(s, -1, e);
      else pend_push(s, NULL, 0, e);
      break;
    }
    for (int i = 0; i < n; i++) {
      const unsigned char* b = s->rbuf[i];
      unsigned int len = s->rmsgs[i].msg_len;
      int ack, err;
      if (s->run.armed && len >= 4 && b[0] == 0 && b[1] == 4) {
        if (run_step(s, (uint16_t)((b[2] << 8) | b[3]), &ack, &err)) thread_end_run(s, ack, err);
      } else if (len >= 4) {
        pend_push(s, b, len, 0);
      }
    }
  }
  s->thread_done = 1;
  pthread_mutex_unlock(&s->mu);
  uv_async_send(&s->async);
  return NULL;
}

static void start_thread(Sock* s) {
  s->thread_wanted = 0;
  if (s->closed || !s->run.armed || s->thread_on) return;
  /* The thread looks at `armed` and `closed` at least this often, whatever the client does:
   * shutdown() on close wakes it anyway, this is the bound if it did not. The loop's own reads
   * never block, so they do not see it. */
  struct timeval tick = {0, 100 * 1000};
  setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
  /* libuv made the socket non-blocking; the thread's recvmmsg must block. Every other call on it
   * passes MSG_DONTWAIT, so the loop never waits on it. */
  int fl = fcntl(s->fd, F_GETFL);
  if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(s->fd, F_SETFL, fl & ~O_NONBLOCK);
  sigset_t all, old;
  sigfillset(&all);
  /* Process signals stay with Node's threads. */
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  s->thread_done = 0;
  int rc = pthread_create(&s->thread, &attr, relay_main, s);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  /* Without a thread the loop relays this run itself. */
  if (rc == 0) s->thread_on = 1;
  poll_update(s);
}

/* The relay thread returned: join it, tell JS where the run ended, hand over what it read. */
static void on_async(uv_async_t* h) {
  Sock* s = (Sock*)h->data;
  if (s->closed || !s->thread_on) return;
  pthread_mutex_lock(&s->mu);
  int done = s->thread_done;
  pthread_mutex_unlock(&s->mu);
  if (!done) return;
  pthread_join(s->thread, NULL);
  s->thread_on = 0;
  Pending* p = s->pend;
  s->pend = s->pend_tail = NULL;
  s->busy = 1;
  napi_handle_scope scope;
  napi_open_handle_scope(s->env, &scope);
  if (s->ended.on) {
    s->ended.on = 0;
    tell_run_ended(s, s->ended.sent, s->ended.acked, s->ended.ack, s->ended.err);
  } else if (s->ended.taken) {
    /* JS took the run back with disarm() first: the ACK that ended it is an ordinary one now. */
    s->ended.taken = 0;
    if (s->ended.ack >= 0) {
      unsigned char ack[4] = {0, 4, (unsigned char)(s->ended.ack >> 8), (unsigned char)s->ended.ack};
      deliver(s, ack, 4);
    }
    if (s->ended.err && !s->closed) report_error(s, s->ended.err);
  }
  for (Pending* q = p; q && !s->closed; q = q->next) {
    if (q->len) deliver(s, q->data, q->len);
    else report_error(s, q->err);
  }
  free_pending(p);
  napi_close_handle_scope(s->env, scope);
  s->busy = 0;
  if (s->thread_wanted) start_thread(s);
  poll_update(s);
}

static void drain(Sock* s) {
  for (int round = 0; round < RECV_ROUNDS && !s->closed; round++) {
    int n = recvmmsg(s->fd, s->rmsgs, RECV_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      /* ECONNREFUSED here is the ICMP port-unreachable of a client that went away. */
      if (errno != EAGAIN && errno != EWOULDBLOCK) report_error(s, errno);
      return;
    }
    for (int i = 0; i < n && !s->closed; i++) deliver(s, s->rbuf[i], s->rmsgs[i].msg_len);
    /* A run armed meanwhile gets its thread when this callback returns: until then, reads are ours. */
    if (n < RECV_BATCH) return;
  }
}

static void on_poll(uv_poll_t* h, int status, int events) {
  Sock* s = (Sock*)h->data;
  if (s->closed) return;
  s->busy = 1;
  napi_handle_scope scope;
  napi_open_handle_scope(s->env, &scope);
  if (status < 0) {
    /* libuv says EBADF for any POLLERR and stops the poll; the socket's own error is the truth
     * (ECONNREFUSED: an ICMP port unreachable from a client that went away). */
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) report_error(s, err);
  } else {
    if ((events & UV_READABLE) && !s->thread_on) drain(s);
    if (!s->closed && (events & UV_WRITABLE)) {
      s->want_writable = 0;
      poll_update(s);
      call_js(s, s->on_writable, 0, NULL);
    }
  }
  napi_close_handle_scope(s->env, scope);
  s->busy = 0;
  if (s->thread_wanted) start_thread(s);
  poll_update(s);
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char host[64];
  int32_t port = 0, sndbuf = 0, rcvbuf = 0;
  if (argc < 4 || !get_string(env, argv[0], host, sizeof host) || napi_get_value_int32(env, argv[1], &port) != napi_ok ||
      napi_get_value_int32(env, argv[2], &sndbuf) != napi_ok || napi_get_value_int32(env, argv[3], &rcvbuf) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "open(host, port, sndbuf, rcvbuf)");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sl = make_addr(host, port, &ss);
  if (!sl) {
    napi_throw_error(env, "EINVAL", "not an IP address literal");
    return NULL;
  }
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket");
    return NULL;
  }
  if (bind(fd, (struct sockaddr*)&ss, sl) < 0) {
    int e = errno;
    close(fd);
    throw_errno(env, e, "bind");
    return NULL;
  }
  /* Best effort, as with node:dgram: capped by net.core.[rw]mem_max. */
  if (sndbuf > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  Sock* s = (Sock*)calloc(1, sizeof(Sock));
  if (!s) {
    close(fd);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  uv_loop_t* loop;
  napi_get_uv_event_loop(env, &loop);
  s->fd = fd;
  s->family = ss.ss_family;
  s->env = env;
  if (uv_poll_init_socket(loop, &s->poll, fd) != 0) {
    close(fd);
    free(s);
    napi_throw_error(env, "EIO", "uv_poll_init_socket failed");
    return NULL;
  }
  s->poll.data = s;
  pthread_mutex_init(&s->mu, NULL);
  uv_async_init(loop, &s->async, on_async);
  s->async.data = s;
  /* Like the poll, it must not keep the process alive by itself. */
  uv_unref((uv_handle_t*)&s->async);
  s->refs = 3;
  s->gso = 1;
  /* Set once: recvmmsg only writes msg_len (no names, no control data are asked for). */
  for (int i = 0; i < RECV_BATCH; i++) {
    s->riov[i].iov_base = s->rbuf[i];
    s->riov[i].iov_len = RECV_SLOT;
    s->rmsgs[i].msg_hdr.msg_iov = &s->riov[i];
    s->rmsgs[i].msg_hdr.msg_iovlen = 1;
  }
  napi_value ext;
  napi_create_external(env, s, finalize, NULL, &ext);
  return ext;
}

static napi_value js_connect(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  Sock* s = sock_args(env, info, 3, argv);
  char host[64];
  int32_t port = 0;
  if (!s) return NULL;
  if (s->closed || !get_string(env, argv[1], host, sizeof host) || napi_get_value_int32(env, argv[2], &port) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "connect(handle, host, port)");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sl = make_addr(host, port, &ss);
  if (!sl || ss.ss_family != s->family) {
    napi_throw_error(env, "EINVAL", "peer address family differs from the socket's");
    return NULL;
  }
  if (connect(s->fd, (struct sockaddr*)&ss, sl) < 0) throw_errno(env, errno, "connect");
  return NULL;
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  Sock* s = sock_args(env, info, 4, argv);
  if (!s) return NULL;
  if (s->closed || s->started) {
    napi_throw_error(env, "EINVAL", "socket closed or already started");
    return NULL;
  }
  napi_create_reference(env, argv[1], 1, &s->on_message);
  napi_create_reference(env, argv[2], 1, &s->on_error);
  napi_create_reference(env, argv[3], 1, &s->on_writable);
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_reference(env, resource, 1, &s->resource);
  napi_create_string_utf8(env, "rhevboot.tftp.udp", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &s->actx);
  s->started = 1;
  poll_update(s);
  return NULL;
}

/* Sends pkts[0..count) in order; returns how many the kernel took (fewer when the send buffer
 * is full), or -errno. With GSO, a message is a run of adjacent packets of one size (the last of a
 * run may be shorter: the file's last block). */
static int64_t send_packets(Sock* s, const struct iovec* pkts, uint32_t count) {
  uint32_t done = 0;
  while (done < count) {
    uint32_t m = 0, taken = 0;
    while (m < SEND_MAX && done + taken < count) {
      const struct iovec* pk = &pkts[done + taken];
      if (m > 0 && s->gso && s->sparts[m - 1] < GSO_MAX_SEGS) {
        struct iovec* prev = &s->siov[m - 1];
        size_t seg = s->sseg[m - 1];
        int prev_closed = prev->iov_len % seg != 0; /* a short last segment ends a run */
        if (!prev_closed && (char*)prev->iov_base + prev->iov_len == (char*)pk->iov_base && pk->iov_len <= seg && pk->iov_len > 0 &&
            prev->iov_len + pk->iov_len <= GSO_MAX_BYTES) {
          if (s->sparts[m - 1] == 1) {
            struct cmsghdr* c = (struct cmsghdr*)s->sctl[m - 1].buf;
            c->cmsg_level = SOL_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            *(uint16_t*)CMSG_DATA(c) = (uint16_t)seg;
            s->smsgs[m - 1].msg_hdr.msg_control = c;
            s->smsgs[m - 1].msg_hdr.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
          }
          prev->iov_len += pk->iov_len;
          s->sparts[m - 1]++;
          taken++;
          continue;
        }
      }
      s->siov[m] = *pk;
      memset(&s->smsgs[m].msg_hdr, 0, sizeof s->smsgs[m].msg_hdr);
      s->smsgs[m].msg_hdr.msg_iov = &s->siov[m];
      s->smsgs[m].msg_hdr.msg_iovlen = 1;
      s->sparts[m] = 1;
      s->sseg[m] = pk->iov_len;
      m++;
      taken++;
    }
    int r = sendmmsg(s->fd, s->smsgs, m, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) break;
      /* The kernel refusing UDP GSO (a segment over the route's MTU: EMSGSIZE; IPsec, no
       * checksum: EIO; no support: EINVAL/ENOPROTOOPT): turn it off for this socket and send the
       * same packets plainly, where the IP layer may still fragment what GSO would not cut. */
      if (s->gso && (errno == EMSGSIZE || errno == EIO || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOPROTOOPT)) {
        int grouped = 0;
        for (uint32_t i = 0; i < m; i++) grouped |= s->sparts[i] > 1;
        if (grouped) {
          s->gso = 0;
          continue;
        }
      }
      return -errno;
    }
    for (int i = 0; i < r; i++) done += s->sparts[i];
    if ((uint32_t)r < m) break;
  }
  return done;
}

/* Reads Buffers list[first..first+count) into iovecs; 0 (with a JS exception) when one is not a Buffer. */
static int buffer_iovecs(napi_env env, napi_value list, uint32_t first, uint32_t count, struct iovec* out) {
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    void* data;
    size_t blen;
    if (napi_get_element(env, list, first + i, &el) != napi_ok || napi_get_buffer_info(env, el, &data, &blen) != napi_ok) {
      napi_throw_type_error(env, "EINVAL", "not a Buffer");
      return 0;
    }
    out[i].iov_base = data;
    out[i].iov_len = blen;
  }
  return 1;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  Sock* s = sock_args(env, info, 4, argv);
  uint32_t first = 0, count = 0, len = 0;
  if (!s) return NULL;
  if (s->closed || napi_get_array_length(env, argv[1], &len) != napi_ok || napi_get_value_uint32(env, argv[2], &first) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &count) != napi_ok || first > len || count > len - first) {
    napi_throw_type_error(env, "EINVAL", "send(handle, buffers, first, count)");
    return NULL;
  }
  struct iovec pkts[SEND_MAX];
  uint32_t done = 0;
  while (done < count) {
    uint32_t n = count - done < SEND_MAX ? count - done : SEND_MAX;
    if (!buffer_iovecs(env, argv[1], first + done, n, pkts)) return NULL;
    /* The relay thread sends from the same message arrays. */
    pthread_mutex_lock(&s->mu);
    int64_t r = send_packets(s, pkts, n);
    pthread_mutex_unlock(&s->mu);
    if (r < 0) {
      throw_errno(env, (int)-r, "sendmmsg");
      return NULL;
    }
    done += (uint32_t)r;
    if ((uint32_t)r < n) break;
  }
  napi_value out;
  napi_create_uint32(env, done, &out);
  return out;
}

/* arm(handle, packets, count, baseWire, window): the next `count` blocks after the outstanding
 * window, loaded and with headers written, for the addon to send as ACKs come in. baseWire is the
 * wire number of the last ACKed block; the window is full when arming. JS must not touch the
 * packets' memory until the run ends (onMessage(0, …)) or disarm() returns. */
static napi_value js_arm(napi_env env, napi_callback_info info) {
  napi_value yes;
  napi_value argv[5];
  Sock* s = sock_args(env, info, 5, argv);
  uint32_t count = 0, base = 0, window = 0, len = 0;
  if (!s) return NULL;
  if (s->closed || !s->started || s->run.armed || napi_get_array_length(env, argv[1], &len) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &count) != napi_ok || napi_get_value_uint32(env, argv[3], &base) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &window) != napi_ok || count == 0 || count > len || count > RUN_MAX || base > 0xffff ||
      window == 0 || window > 0xffff) {
    napi_throw_type_error(env, "EINVAL", "arm(handle, packets, count, baseWire, window)");
    return NULL;
  }
  /* The last run's thread has not been joined yet: JS goes on by itself and arms again later. */
  napi_get_boolean(env, !s->thread_on, &yes);
  if (s->thread_on) return yes;
  if (!buffer_iovecs(env, argv[1], 0, count, s->run.pkts)) return NULL;
  napi_create_reference(env, argv[1], 1, &s->run.keep);
  s->run.base = (uint16_t)base;
  s->run.outstanding = s->run.sent = window;
  s->run.acked = 0;
  s->run.end = window + count;
  s->run.window = window;
  s->run.last_send_ns = 0;
  s->run.armed = 1;
  if (count >= THREAD_MIN_RUN) {
    /* Inside a callback, the loop may still read this socket: the thread starts after it. */
    if (s->busy) s->thread_wanted = 1;
    else start_thread(s);
  }
  return yes;
}

/* Takes the run back: [packets of it sent, blocks ACKed past the base], or undefined when none is armed. */
static napi_value js_disarm(napi_env env, napi_callback_info info) {
  napi_value argv[1], out = NULL;
  Sock* s = sock_args(env, info, 1, argv);
  if (!s) return NULL;
  uint32_t sent, acked;
  pthread_mutex_lock(&s->mu);
  int armed = s->run.armed, ended = s->ended.on;
  if (armed) {
    sent = run_sent(s);
    acked = s->run.acked;
    s->run.armed = 0;
  } else if (ended) {
    sent = s->ended.sent;
    acked = s->ended.acked;
    s->ended.on = 0;
    s->ended.taken = 1;
  }
  pthread_mutex_unlock(&s->mu);
  if (!armed && !ended) return NULL;
  /* The thread, if any, no longer touches the packets. */
  drop_run_packets(s);
  napi_value a, b;
  napi_create_array_with_length(env, 2, &out);
  napi_create_uint32(env, sent, &a);
  napi_create_uint32(env, acked, &b);
  napi_set_element(env, out, 0, a);
  napi_set_element(env, out, 1, b);
  return out;
}

/* Blocks ACKed past the base of the armed run, -1 when none is: the transfer's timer asks it
 * whether the run is still moving. */
static napi_value js_run_acked(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  Sock* s = sock_args(env, info, 1, argv);
  if (!s) return NULL;
  pthread_mutex_lock(&s->mu);
  int64_t acked = s->run.armed ? (int64_t)s->run.acked : s->ended.on ? (int64_t)s->ended.acked : -1;
  pthread_mutex_unlock(&s->mu);
  napi_create_int64(env, acked, &out);
  return out;
}

/* The mean round trip, in ms, of the ACKs runs answered since the last call; -1 when none. */
static napi_value js_run_rtt(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  Sock* s = sock_args(env, info, 1, argv);
  if (!s) return NULL;
  pthread_mutex_lock(&s->mu);
  double ms = s->run.rtt_n ? (double)s->run.rtt_sum_ns / s->run.rtt_n / 1e6 : -1;
  s->run.rtt_sum_ns = 0;
  s->run.rtt_n = 0;
  pthread_mutex_unlock(&s->mu);
  napi_create_double(env, ms, &out);
  return out;
}

static napi_value js_wait_writable(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Sock* s = sock_args(env, info, 1, argv);
  if (!s || s->closed || !s->started) return NULL;
  s->want_writable = 1;
  poll_update(s);
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Sock* s = sock_args(env, info, 1, argv);
  if (s) shut(env, s);
  return NULL;
}

static napi_value js_read_cached(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  uint32_t first = 0, count = 0, len = 0;
  int64_t pos = 0;
  if (argc != 5 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_array_length(env, argv[1], &len) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &first) != napi_ok || napi_get_value_uint32(env, argv[3], &count) != napi_ok ||
      napi_get_value_int64(env, argv[4], &pos) != napi_ok || first > len || count > len - first || count > IOV_MAX || pos < 0) {
    napi_throw_type_error(env, "EINVAL", "readCached(fd, buffers, first, count, position)");
    return NULL;
  }
  struct iovec iov[IOV_MAX];
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    void* data;
    size_t blen;
    if (napi_get_element(env, argv[1], first + i, &el) != napi_ok || napi_get_buffer_info(env, el, &data, &blen) != napi_ok) {
      napi_throw_type_error(env, "EINVAL", "readCached: not a Buffer");
      return NULL;
    }
    iov[i].iov_base = data;
    iov[i].iov_len = blen;
  }
  ssize_t r;
  do r = preadv2(fd, iov, (int)count, (off_t)pos, RWF_NOWAIT);
  while (r < 0 && errno == EINTR);
  napi_value out;
  /* EAGAIN: not cached; EOPNOTSUPP: a file system without RWF_NOWAIT. Either way the caller
   * reads through the thread pool, which also reports any real error properly. */
  napi_create_int64(env, r < 0 ? -1 : (int64_t)r, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"connect", NULL, js_connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"arm", NULL, js_arm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"disarm", NULL, js_disarm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"runAcked", NULL, js_run_acked, NULL, NULL, NULL, napi_enumerable, NULL},
      {"runRtt", NULL, js_run_rtt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"waitWritable", NULL, js_wait_writable, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readCached", NULL, js_read_cached, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
