/* bench-qmachine.c: qmachine against a hand-written C client, side by side
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Numbers, not pass/fail. Every workload runs twice per round, once
 * through a plain C client and once through qmachine, in alternating
 * order, in this one process, against the same QEMU binary; the program
 * prints the median of each side and their ratio.
 *
 * The plain client is the least work a C program can do: a socketpair,
 * posix_spawn(), blocking reads and writes of the shortest messages, and
 * string searches instead of a JSON parser. qmachine is used as an
 * application would use it: sync calls where a script would block, the
 * async API and the default main context where a GLib program would.
 *
 * Usage: bench-qmachine [--rounds N] [--json] [--only NAME]
 *   QMACHINE_TEST_QEMU   the QEMU binary (default qemu-system-x86_64)
 *
 * docs/benchmarks.md quotes its output and says what bounds each number.
 */


#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>

#include "qmachine.h"
#include "plain-client.h"

static const char *qemu_binary;

/* ------------------------------------------------------------------------ */
/* Statistics                                                               */

typedef struct
{
  double *v;
  guint   n;
  guint   alloc;
} Samples;

static void
samples_add (Samples *s,
             double   value)
{
  if (s->n == s->alloc)
    {
      s->alloc = MAX (64, s->alloc * 2);
      s->v = g_renew (double, s->v, s->alloc);
    }
  s->v[s->n++] = value;
}

static int
cmp_double (const void *a,
            const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double
samples_median (Samples *s)
{
  if (s->n == 0)
    return 0;
  qsort (s->v, s->n, sizeof *s->v, cmp_double);
  return s->n % 2 ? s->v[s->n / 2] : (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2;
}

static void
samples_clear (Samples *s)
{
  g_clear_pointer (&s->v, g_free);
  s->n = s->alloc = 0;
}

/* One row of the table. */
typedef struct
{
  const char *name;        /* machine-readable */
  const char *what;        /* for people */
  const char *unit;
  gboolean    higher_is_better;
  double      target;      /* ratio (or, with target_abs, the unit's value) */
  gboolean    target_abs;  /* the target is on qmachine's value, not the ratio */
  Samples     c;
  Samples     q;
} Row;

static Row rows[] = {
  { "roundtrip-sync", "query-status round trip, sync call", "us", FALSE, 1.25 },
  { "roundtrip-async", "query-status round trip, async + main loop", "us", FALSE, 1.25 },
  { "events-per-second", "events per second (stop/cont)", "1/s", TRUE, 0.90 },
  { "command-to-event", "command sent -> its event delivered", "us", FALSE, 1.25 },
  { "event-to-callback", "event made by QEMU -> callback", "us", FALSE, 40, TRUE },
  { "event-to-callback-glib", "  the same: one-thread GLib client vs qmachine", "us", FALSE, 0 },
  { "launch", "launch -> QMP ready (-machine none)", "ms", FALSE, 1.03 },
  { "shutdown", "shutdown (quit, reap)", "ms", FALSE, 1.10 },
  { "spawn-helper", "  spawn to exec: posix_spawn vs qmachine's", "ms", FALSE, 0 },
  { "spawn-fork", "  the same, no spawn helper: fork + child setup", "ms", FALSE, 0 },
  { "many-first-ready", "32 machines, one thread: first ready", "ms", FALSE, 1.15 },
  { "many-all-ready", "32 machines, one thread: all ready", "ms", FALSE, 1.05 },
  { "many-all-down", "32 machines, one thread: all shut down", "ms", FALSE, 1.10 },
  { "rss-one-machine", "controller RSS, one machine", "KiB", FALSE, 4096, TRUE },
  { "rss-anon-one-machine", "  of which private (RssAnon)", "KiB", FALSE, 0 },
  { "rss-gio-one-machine", "  the same: least GIO + json-glib program vs qmachine", "KiB", FALSE, 0 },
};

static Row *
row (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    if (g_str_equal (rows[i].name, name))
      return &rows[i];
  g_assert_not_reached ();
}

static G_NORETURN void
die (const char *what,
     GError     *error)
{
  g_printerr ("bench-qmachine: %s: %s\n", what, error ? error->message : g_strerror (errno));
  exit (1);
}

static double
now_us (void)
{
  return (double)g_get_monotonic_time ();
}

/* A field of /proc/self/status, in KiB. */
static long
status_kib (const char *field)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  line = strstr (status, field);
  return line ? strtol (line + strlen (field), NULL, 10) : -1;
}

/* The event's "timestamp" is QEMU's wall clock when it made the event. */
static double
event_age_us (const char *seconds_at)
{
  long long sec = 0, usec = 0;

  if (seconds_at == NULL ||
      sscanf (seconds_at, "\"seconds\": %lld, \"microseconds\": %lld", &sec, &usec) != 2)
    return -1;
  return (double)(g_get_real_time () - (sec * G_USEC_PER_SEC + usec));
}

/* ------------------------------------------------------------------------ */
/* qmachine helpers                                                         */

static QMachine *
q_new_none (void)
{
  QMachine *m = q_machine_new (qemu_binary);

  q_machine_set_machine (m, "none");
  q_machine_add_args (m, "-nodefaults", NULL);
  return m;
}

/* ------------------------------------------------------------------------ */
/* Workloads                                                                */

#define RT_BLOCK 200

/* The plain client's round trips, for the row @name: blocking I/O is the
 * least work for both the sync and the async rows. */
static void
rt_plain (Plain      *p,
          const char *name)
{
  Row *r = row (name);

  for (int i = 0; i < RT_BLOCK; i++)
    {
      double t0 = now_us ();
      plain_send (p, "{\"execute\":\"query-status\"}\n");
      plain_until_return (p, NULL, NULL);
      samples_add (&r->c, now_us () - t0);
    }
}

static void
rt_q_sync (QMachine *m)
{
  GError *error = NULL;

  for (int i = 0; i < RT_BLOCK; i++)
    {
      double t0 = now_us ();
      g_autoptr(JsonNode) r = q_machine_cmd (m, "query-status", NULL, NULL, &error);
      if (r == NULL)
        die ("query-status", error);
      samples_add (&row ("roundtrip-sync")->q, now_us () - t0);
    }
}

typedef struct
{
  QMachine *m;
  int       left;
  double    t0;
} AsyncLoop;

static void
rt_async_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      data)
{
  AsyncLoop *l = data;
  GError *error = NULL;
  g_autoptr(JsonNode) r = q_machine_cmd_finish (l->m, result, &error);

  if (r == NULL)
    die ("query-status", error);
  samples_add (&row ("roundtrip-async")->q, now_us () - l->t0);
  if (--l->left > 0)
    {
      l->t0 = now_us ();
      q_machine_cmd_async (l->m, "query-status", NULL, NULL, rt_async_cb, l);
    }
}

static void
rt_q_async (QMachine *m)
{
  AsyncLoop l = { m, RT_BLOCK, now_us () };

  q_machine_cmd_async (m, "query-status", NULL, NULL, rt_async_cb, &l);
  while (l.left > 0)
    g_main_context_iteration (NULL, TRUE);
}

/* stop/cont: each command's reply and event, then the next command. */
#define EV_BLOCK 100

typedef struct
{
  double t_sent;
  gboolean got;
} PlainEv;

static void
plain_ev_cb (const char *line,
             gpointer    data)
{
  PlainEv *e = data;
  double age = event_age_us (strstr (line, "\"seconds\""));

  if (strstr (line, "\"STOP\"") || strstr (line, "\"RESUME\""))
    {
      samples_add (&row ("command-to-event")->c, now_us () - e->t_sent);
      if (age >= 0)
        samples_add (&row ("event-to-callback")->c, age);
      e->got = TRUE;
    }
}

static void
ev_plain (Plain *p)
{
  double t0 = now_us ();

  for (int i = 0; i < EV_BLOCK; i++)
    {
      PlainEv e = { now_us (), FALSE };

      plain_send (p, i % 2 ? "{\"execute\":\"cont\"}\n" : "{\"execute\":\"stop\"}\n");
      plain_until_return (p, plain_ev_cb, &e);
      while (!e.got)
        {
          char *line = plain_line (p);
          if (line == NULL)
            die ("QEMU closed the monitor", NULL);
          plain_ev_cb (line, &e);
        }
    }
  samples_add (&row ("events-per-second")->c, EV_BLOCK / ((now_us () - t0) / 1e6));
}

/* The least a GLib program does on one thread: the monitor socket's own
 * source on the default main context, json-glib, a callback. It shows
 * what the event row could be with no worker thread in between. */
typedef struct
{
  Plain      *p;
  JsonParser *parser;
  gboolean    replied;
  gboolean    evented;
} GlibEv;

static gboolean
ev_glib_readable (GSocket      *socket,
                  GIOCondition  condition,
                  gpointer      data)
{
  GlibEv *g = data;
  Plain *p = g->p;
  ssize_t n;
  char *nl;

  if (p->start > 0)
    {
      memmove (p->buf, p->buf + p->start, p->len - p->start);
      p->len -= p->start;
      p->start = 0;
    }
  n = recv (p->fd, p->buf + p->len, sizeof p->buf - p->len, MSG_DONTWAIT);
  if (n <= 0)
    return G_SOURCE_CONTINUE;
  p->len += n;

  while ((nl = memchr (p->buf + p->start, '\n', p->len - p->start)) != NULL)
    {
      const char *line = p->buf + p->start;
      gsize len = nl - line + 1;
      g_autoptr(JsonNode) root = NULL;
      JsonObject *o;

      if (!json_parser_load_from_data (g->parser, line, len, NULL))
        die ("a QMP line", NULL);
      p->start += len;
      root = json_parser_steal_root (g->parser);
      o = json_node_get_object (root);
      if (json_object_has_member (o, "event"))
        {
          const char *name = json_object_get_string_member (o, "event");
          JsonObject *ts = json_object_get_object_member (o, "timestamp");

          if (g_str_equal (name, "STOP") || g_str_equal (name, "RESUME"))
            {
              gint64 at = json_object_get_int_member (ts, "seconds") * G_USEC_PER_SEC +
                          json_object_get_int_member (ts, "microseconds");

              samples_add (&row ("event-to-callback-glib")->c, (double)(g_get_real_time () - at));
              g->evented = TRUE;
            }
        }
      else if (json_object_has_member (o, "return"))
        g->replied = TRUE;
    }

  return G_SOURCE_CONTINUE;
}

static void
ev_glib (Plain *p)
{
  GlibEv g = { p, json_parser_new_immutable (), FALSE, FALSE };
  g_autoptr(GSocket) socket = g_socket_new_from_fd (dup (p->fd), NULL);
  GSource *source = g_socket_create_source (socket, G_IO_IN, NULL);

  g_source_set_callback (source, G_SOURCE_FUNC (ev_glib_readable), &g, NULL);
  g_source_set_can_recurse (source, TRUE);
  g_source_attach (source, NULL);

  for (int i = 0; i < EV_BLOCK; i++)
    {
      g.replied = g.evented = FALSE;
      plain_send (p, i % 2 ? "{\"execute\":\"cont\"}\n" : "{\"execute\":\"stop\"}\n");
      while (!g.replied || !g.evented)
        g_main_context_iteration (NULL, TRUE);
    }

  g_source_destroy (source);
  g_source_unref (source);
  g_object_unref (g.parser);
  /* GSocket made the (shared) file description non-blocking; the plain
   * client's reads block. */
  if (fcntl (p->fd, F_SETFL, fcntl (p->fd, F_GETFL) & ~O_NONBLOCK) < 0)
    die ("fcntl", NULL);
}

typedef struct
{
  QMachine *m;
  int       i;
  double    t_sent;
  gboolean  replied;
  gboolean  evented;
} QEv;

/* Where ev_q's event latencies go: the main row, or the GLib comparison. */
static const char *ev_q_row = "event-to-callback";

static void ev_q_next (QEv *e);

static void
ev_q_step (QEv *e)
{
  if (e->replied && e->evented)
    {
      e->i++;
      if (e->i < EV_BLOCK)
        ev_q_next (e);
    }
}

static void
ev_q_reply_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      data)
{
  QEv *e = data;
  GError *error = NULL;
  g_autoptr(JsonNode) r = q_machine_cmd_finish (e->m, result, &error);

  if (r == NULL)
    die ("stop/cont", error);
  e->replied = TRUE;
  ev_q_step (e);
}

static void
ev_q_event_cb (QMachine   *m,
               const char *name,
               JsonObject *event,
               gpointer    data)
{
  QEv *e = data;
  double t = now_us ();
  JsonObject *ts;

  if (!g_str_equal (name, "STOP") && !g_str_equal (name, "RESUME"))
    return;
  if ((ts = json_object_get_object_member (event, "timestamp")) != NULL)
    {
      gint64 at = json_object_get_int_member (ts, "seconds") * G_USEC_PER_SEC +
                  json_object_get_int_member (ts, "microseconds");
      samples_add (&row (ev_q_row)->q, (double)(g_get_real_time () - at));
    }
  if (g_str_equal (ev_q_row, "event-to-callback"))
    samples_add (&row ("command-to-event")->q, t - e->t_sent);
  e->evented = TRUE;
  ev_q_step (e);
}

static void
ev_q_next (QEv *e)
{
  e->replied = e->evented = FALSE;
  e->t_sent = now_us ();
  q_machine_cmd_async (e->m, e->i % 2 ? "cont" : "stop", NULL, NULL, ev_q_reply_cb, e);
}

static void
ev_q (QMachine *m)
{
  QEv e = { m, 0 };
  gulong id = g_signal_connect (m, "event", G_CALLBACK (ev_q_event_cb), &e);
  double t0 = now_us ();

  ev_q_next (&e);
  while (e.i < EV_BLOCK)
    g_main_context_iteration (NULL, TRUE);
  if (g_str_equal (ev_q_row, "event-to-callback"))
    samples_add (&row ("events-per-second")->q, EV_BLOCK / ((now_us () - t0) / 1e6));
  g_signal_handler_disconnect (m, id);
  /* Drain the events the machine keeps for event_wait. */
  g_ptr_array_unref (q_machine_get_events (m));
}

/* Launch and shutdown, one machine at a time. */
static void
ls_plain (void)
{
  Plain *p = g_new0 (Plain, 1);
  double t0 = now_us (), t1;

  plain_launch (p);
  t1 = now_us ();
  samples_add (&row ("launch")->c, (t1 - t0) / 1000);
  plain_shutdown (p);
  samples_add (&row ("shutdown")->c, (now_us () - t1) / 1000);
  g_free (p);
}

static void
ls_q (void)
{
  g_autoptr(QMachine) m = q_new_none ();
  GError *error = NULL;
  double t0 = now_us (), t1;

  if (!q_machine_launch (m, NULL, &error))
    die ("launch", error);
  t1 = now_us ();
  samples_add (&row ("launch")->q, (t1 - t0) / 1000);
  if (!q_machine_shutdown (m, 0, 10000, NULL, &error))
    die ("shutdown", error);
  samples_add (&row ("shutdown")->q, (now_us () - t1) / 1000);
}

/* What launching a process costs by itself, without QMP, up to QEMU's
 * exec: the plain client's posix_spawn (vfork, then exec) against the
 * way qmachine spawns, GSubprocess's posix_spawn of the spawn helper,
 * which then execs QEMU (qmachine-spawn-helper; the report pipe closes at
 * that exec); and against the fork with a child setup that qmachine falls
 * back to without the helper (GLib waits for the exec). The difference is
 * the part of the launch row that is the spawn's. */
static const char *spawn_argv[] = {
  NULL, "-machine", "none", "-nodefaults", "-display", "none", "-S", NULL,
};
static const char *spawn_row;

static void
spawn_plain (void)
{
  double t0 = now_us ();
  pid_t pid;
  int status;

  spawn_argv[0] = qemu_binary;
  if (posix_spawnp (&pid, qemu_binary, NULL, NULL, (char **)spawn_argv, environ) != 0)
    die ("posix_spawnp", NULL);
  samples_add (&row (spawn_row)->c, (now_us () - t0) / 1000);
  kill (pid, SIGKILL);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
}

static void
spawn_child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
spawn_fork (void)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GSubprocess) sub = NULL;
  g_autoptr(GError) error = NULL;
  double t0 = now_us ();

  spawn_argv[0] = qemu_binary;
  g_subprocess_launcher_set_child_setup (launcher, spawn_child_setup, NULL, NULL);
  sub = g_subprocess_launcher_spawnv (launcher, spawn_argv, &error);
  if (sub == NULL)
    die ("spawn", error);
  samples_add (&row ("spawn-fork")->q, (now_us () - t0) / 1000);
  g_subprocess_force_exit (sub);
  g_subprocess_wait (sub, NULL, NULL);
}

static char *spawn_helper;

static void
spawn_helper_find (void)
{
  const char *env = g_getenv ("QMACHINE_SPAWN_HELPER");
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = exe ? g_path_get_dirname (exe) : NULL;

  if (env != NULL && g_path_is_absolute (env))
    spawn_helper = g_strdup (env);
  else if (dir != NULL)
    spawn_helper = g_build_filename (dir, "..", "qmachine", "qmachine-spawn-helper", NULL);
  if (spawn_helper == NULL || access (spawn_helper, X_OK) != 0)
    die ("no qmachine-spawn-helper (set QMACHINE_SPAWN_HELPER)", NULL);
}

static void
spawn_through_helper (void)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_INHERIT_FDS);
  g_autoptr(GSubprocess) sub = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *parent = g_strdup_printf ("%d", (int)getpid ());
  g_autofree char *path = g_find_program_in_path (qemu_binary);
  const char *argv[G_N_ELEMENTS (spawn_argv) + 6] = {
    spawn_helper, "qmachine-spawn-1", parent, "3", "", path, NULL,
  };
  double t0 = now_us ();
  int report[2];
  char byte;

  spawn_argv[0] = qemu_binary;
  memcpy (argv + 6, spawn_argv, sizeof spawn_argv);
  if (path == NULL || !g_unix_open_pipe (report, FD_CLOEXEC, &error))
    die ("spawn helper set-up", error);
  g_subprocess_launcher_take_stdout_fd (launcher, open ("/dev/null", O_WRONLY | O_CLOEXEC));
  g_subprocess_launcher_take_stderr_fd (launcher, open ("/dev/null", O_WRONLY | O_CLOEXEC));
  g_subprocess_launcher_take_fd (launcher, report[1], 3);
  sub = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (sub == NULL)
    die ("spawn", error);
  g_clear_object (&launcher);
  while (read (report[0], &byte, 1) < 0 && errno == EINTR)
    ;
  samples_add (&row ("spawn-helper")->q, (now_us () - t0) / 1000);
  close (report[0]);
  g_subprocess_force_exit (sub);
  g_subprocess_wait (sub, NULL, NULL);
}

/* 32 machines from one thread. */
#define MANY 32

static void
many_plain (void)
{
  Plain *ps = g_new0 (Plain, MANY);
  struct pollfd fds[MANY];
  double t0 = now_us (), first = 0;
  int ready = 0, down = 0;

  for (int i = 0; i < MANY; i++)
    plain_spawn (&ps[i]);

  /* stage 0: wait for the greeting; 1: capabilities sent; 2: ready. */
  while (ready < MANY)
    {
      for (int i = 0; i < MANY; i++)
        {
          fds[i].fd = ps[i].stage < 2 ? ps[i].fd : -1;
          fds[i].events = POLLIN;
        }
      if (poll (fds, MANY, -1) < 0)
        die ("poll", NULL);
      for (int i = 0; i < MANY; i++)
        {
          Plain *p = &ps[i];
          ssize_t n;

          if (!(fds[i].revents & (POLLIN | POLLHUP)))
            continue;
          n = read (p->fd, p->buf + p->len, sizeof p->buf - p->len);
          if (n <= 0)
            die ("QEMU closed the monitor", NULL);
          p->len += n;
          for (;;)
            {
              char *nl = memchr (p->buf + p->start, '\n', p->len - p->start);
              char *line = p->buf + p->start;

              if (nl == NULL)
                break;
              *nl = '\0';
              p->start = nl + 1 - p->buf;
              if (p->stage == 0 && strstr (line, "\"QMP\""))
                {
                  plain_send (p, "{\"execute\":\"qmp_capabilities\"}\n");
                  p->stage = 1;
                }
              else if (p->stage == 1 && strstr (line, "\"return\""))
                {
                  p->stage = 2;
                  if (ready++ == 0)
                    first = now_us ();
                }
            }
          if (p->start == p->len)
            p->len = p->start = 0;
        }
    }
  samples_add (&row ("many-first-ready")->c, (first - t0) / 1000);
  samples_add (&row ("many-all-ready")->c, (now_us () - t0) / 1000);

  t0 = now_us ();
  for (int i = 0; i < MANY; i++)
    plain_send (&ps[i], "{\"execute\":\"quit\"}\n");
  while (down < MANY)
    {
      for (int i = 0; i < MANY; i++)
        {
          fds[i].fd = ps[i].fd;
          fds[i].events = POLLIN;
        }
      if (poll (fds, MANY, -1) < 0)
        die ("poll", NULL);
      for (int i = 0; i < MANY; i++)
        {
          char scratch[4096];

          if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
          if (read (ps[i].fd, scratch, sizeof scratch) <= 0)
            {
              int status;

              close (ps[i].fd);
              ps[i].fd = -1;
              while (waitpid (ps[i].pid, &status, 0) < 0 && errno == EINTR)
                ;
              down++;
            }
        }
    }
  samples_add (&row ("many-all-down")->c, (now_us () - t0) / 1000);
  g_free (ps);
}

typedef struct
{
  double  t0;
  double  first;
  int     done;
} ManyQ;

static void
many_q_launched (GObject      *object,
                 GAsyncResult *result,
                 gpointer      data)
{
  ManyQ *s = data;
  GError *error = NULL;

  if (!q_machine_launch_finish (Q_MACHINE (object), result, &error))
    die ("launch", error);
  if (s->done++ == 0)
    s->first = now_us ();
}

static void
many_q_down (GObject      *object,
             GAsyncResult *result,
             gpointer      data)
{
  ManyQ *s = data;
  GError *error = NULL;

  if (!q_machine_shutdown_finish (Q_MACHINE (object), result, &error))
    die ("shutdown", error);
  s->done++;
}

static void
many_q (void)
{
  QMachine *ms[MANY];
  ManyQ s = { now_us (), 0, 0 };

  for (int i = 0; i < MANY; i++)
    {
      ms[i] = q_new_none ();
      q_machine_launch_async (ms[i], NULL, many_q_launched, &s);
    }
  while (s.done < MANY)
    g_main_context_iteration (NULL, TRUE);
  samples_add (&row ("many-first-ready")->q, (s.first - s.t0) / 1000);
  samples_add (&row ("many-all-ready")->q, (now_us () - s.t0) / 1000);

  s.t0 = now_us ();
  s.done = 0;
  for (int i = 0; i < MANY; i++)
    q_machine_shutdown_async (ms[i], 0, 20000, NULL, many_q_down, &s);
  while (s.done < MANY)
    g_main_context_iteration (NULL, TRUE);
  samples_add (&row ("many-all-down")->q, (now_us () - s.t0) / 1000);
  for (int i = 0; i < MANY; i++)
    g_object_unref (ms[i]);
}

/* Controller RSS: each side in a fresh process of its own (this program
 * run again with --rss-child), one machine launched and one command
 * done. */
static int
rss_child (void)
{
  GError *error = NULL;
  g_autoptr(QMachine) m = q_new_none ();
  g_autoptr(JsonNode) r = NULL;

  if (!q_machine_launch (m, NULL, &error))
    die ("launch", error);
  if (!(r = q_machine_cmd (m, "query-status", NULL, NULL, &error)))
    die ("query-status", error);
  printf ("%ld %ld\n", status_kib ("VmRSS:"), status_kib ("RssAnon:"));
  if (!q_machine_shutdown (m, 0, 10000, NULL, &error))
    die ("shutdown", error);
  return 0;
}

/* @program is this program (run again with --rss-child), plain-rss or
 * gio-rss. @anon may be NULL. Returns the RSS. */
static double
rss_measure (const char *program,
             Samples    *rss,
             Samples    *anon)
{
  const char *argv[] = { program, "--rss-child", NULL };
  g_autofree char *out_text = NULL;
  GError *error = NULL;
  int status;

  if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out_text, NULL,
                     &status, &error) ||
      !g_spawn_check_wait_status (status, &error))
    die ("RSS child", error);
  {
    char *end = NULL;
    double value = g_ascii_strtod (out_text, &end);

    samples_add (rss, value);
    if (anon != NULL)
      samples_add (anon, g_ascii_strtod (end, NULL));
    return value;
  }
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

static double
ratio (Row *r, double c, double q)
{
  return c > 0 ? q / c : 0;
}

static gboolean
met (Row *r, double c, double q)
{
  double v = r->target_abs ? q : ratio (r, c, q);
  return r->higher_is_better ? v >= r->target : v <= r->target;
}

static void
print_table (int rounds)
{
  printf ("qmachine %s against a plain C client; %s; %d rounds, interleaved; medians\n\n",
          QMACHINE_VERSION_S, qemu_binary, rounds);
  printf ("%-44s %12s %12s %7s  %-14s\n", "workload", "plain C", "qmachine", "ratio", "target");
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      Row *r = &rows[i];
      double c, q;
      g_autofree char *target = NULL;

      if (r->q.n == 0)
        continue;
      c = samples_median (&r->c);
      q = samples_median (&r->q);
      if (r->target == 0)
        target = g_strdup ("-");
      else if (r->target_abs)
        target = g_strdup_printf ("%s %g %s", r->higher_is_better ? ">=" : "<=", r->target, r->unit);
      else
        target = g_strdup_printf ("%s %.2fx", r->higher_is_better ? ">=" : "<=", r->target);
      printf ("%-44s %9.1f %-3s %8.1f %-3s %6.2fx  %-14s %s\n", r->what, c, r->unit, q, r->unit,
              ratio (r, c, q), target, r->target == 0 ? "" : met (r, c, q) ? "met" : "NOT met");
    }
}

static void
print_json (int rounds)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, QMACHINE_VERSION_S);
  json_builder_set_member_name (b, "qemu");
  json_builder_add_string_value (b, qemu_binary);
  json_builder_set_member_name (b, "rounds");
  json_builder_add_int_value (b, rounds);
  json_builder_set_member_name (b, "rows");
  json_builder_begin_array (b);
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      Row *r = &rows[i];
      double c, q;

      if (r->q.n == 0)
        continue;
      c = samples_median (&r->c);
      q = samples_median (&r->q);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, r->name);
      json_builder_set_member_name (b, "unit");
      json_builder_add_string_value (b, r->unit);
      json_builder_set_member_name (b, "plain_c");
      json_builder_add_double_value (b, c);
      json_builder_set_member_name (b, "qmachine");
      json_builder_add_double_value (b, q);
      json_builder_set_member_name (b, "ratio");
      json_builder_add_double_value (b, ratio (r, c, q));
      json_builder_set_member_name (b, "samples");
      json_builder_add_int_value (b, MIN (r->c.n, r->q.n));
      if (r->target != 0)
        {
          json_builder_set_member_name (b, r->target_abs ? "target_value" : "target_ratio");
          json_builder_add_double_value (b, r->target);
          json_builder_set_member_name (b, "met");
          json_builder_add_boolean_value (b, met (r, c, q));
        }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
}

/* ------------------------------------------------------------------------ */

/* @n rounds of both sides, alternating which goes first. */
static void
alternate (int    n,
           void (*plain) (void),
           void (*q) (void))
{
  for (int i = 0; i < n; i++)
    {
      (i % 2 == 0 ? plain : q) ();
      (i % 2 == 0 ? q : plain) ();
    }
}

static gboolean
wanted (const char *only,
        const char *name)
{
  return only == NULL || g_str_has_prefix (name, only);
}

int
main (int argc, char *argv[])
{
  int rounds = 10;
  gboolean json = FALSE;
  g_autofree char *only = NULL;
  gboolean rss_side = FALSE;
  g_autofree char *self = NULL;
  g_autofree char *plain_rss = NULL;
  g_autofree char *gio_rss = NULL;
  GOptionEntry entries[] = {
    { "rounds", 'n', 0, G_OPTION_ARG_INT, &rounds, "Rounds per workload (default 10)", "N" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON instead of a table", NULL },
    { "only", 0, 0, G_OPTION_ARG_STRING, &only, "Only workloads whose name starts with NAME", "NAME" },
    { "rss-child", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &rss_side, NULL, NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- qmachine against a plain C client");
  GError *error = NULL;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    die ("options", error);
  rounds = MAX (rounds, 1);
  qemu_binary = g_getenv ("QMACHINE_TEST_QEMU") ? g_getenv ("QMACHINE_TEST_QEMU")
                                                  : "qemu-system-x86_64";
  signal (SIGPIPE, SIG_IGN);

  plain_qemu = qemu_binary;
  if (rss_side)
    return rss_child ();

  self = g_file_read_link ("/proc/self/exe", &error);
  if (self == NULL)
    die ("/proc/self/exe", error);
  {
    g_autofree char *dir = g_path_get_dirname (self);
    plain_rss = g_build_filename (dir, "plain-rss", NULL);
    gio_rss = g_build_filename (dir, "gio-rss", NULL);
  }

  /* Warm both sides up: the worker thread, the libraries, QEMU's pages. */
  ls_plain ();
  ls_q ();
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      samples_clear (&rows[i].c);
      samples_clear (&rows[i].q);
    }

  if (wanted (only, "roundtrip") || wanted (only, "event") || wanted (only, "command"))
    {
      Plain *p = g_new0 (Plain, 1);
      g_autoptr(QMachine) m = q_new_none ();

      plain_launch (p);
      if (!q_machine_launch (m, NULL, &error))
        die ("launch", error);
      for (int i = 0; i < rounds; i++)
        {
          gboolean c_first = i % 2 == 0;

          for (int side = 0; side < 2; side++)
            {
              if ((side == 0) == c_first)
                {
                  if (wanted (only, "roundtrip"))
                    {
                      rt_plain (p, "roundtrip-sync");
                      rt_plain (p, "roundtrip-async");
                    }
                  if (wanted (only, "event") || wanted (only, "command"))
                    ev_plain (p);
                }
              else
                {
                  if (wanted (only, "roundtrip"))
                    {
                      rt_q_sync (m);
                      rt_q_async (m);
                    }
                  if (wanted (only, "event") || wanted (only, "command"))
                    ev_q (m);
                }
            }
        }
      plain_shutdown (p);
      g_free (p);
      if (!q_machine_shutdown (m, 0, 10000, NULL, &error))
        die ("shutdown", error);
    }

  /* A separate block, with as many QEMUs alive as above (one per side):
   * a third one, even idle, changes every latency on a 2-CPU machine. */
  if (wanted (only, "event"))
    {
      Plain *pg = g_new0 (Plain, 1);
      g_autoptr(QMachine) m = q_new_none ();

      plain_launch (pg);
      if (!q_machine_launch (m, NULL, &error))
        die ("launch", error);
      ev_q_row = "event-to-callback-glib";
      for (int i = 0; i < rounds; i++)
        {
          if (i % 2 == 0)
            ev_glib (pg);
          ev_q (m);
          if (i % 2 == 1)
            ev_glib (pg);
        }
      ev_q_row = "event-to-callback";
      plain_shutdown (pg);
      g_free (pg);
      if (!q_machine_shutdown (m, 0, 10000, NULL, &error))
        die ("shutdown", error);
    }

  if (wanted (only, "launch") || wanted (only, "shutdown"))
    alternate (rounds * 2, ls_plain, ls_q);
  if (wanted (only, "launch") || wanted (only, "spawn"))
    {
      spawn_helper_find ();
      spawn_row = "spawn-helper";
      alternate (rounds * 2, spawn_plain, spawn_through_helper);
      spawn_row = "spawn-fork";
      alternate (rounds * 2, spawn_plain, spawn_fork);
    }

  if (wanted (only, "many"))
    alternate (MAX (rounds / 2, 3), many_plain, many_q);

  if (wanted (only, "rss"))
    for (int i = 0; i < 3; i++)
      {
        rss_measure (plain_rss, &row ("rss-one-machine")->c, &row ("rss-anon-one-machine")->c);
        rss_measure (gio_rss, &row ("rss-gio-one-machine")->c, NULL);
        samples_add (&row ("rss-gio-one-machine")->q,
                     rss_measure (self, &row ("rss-one-machine")->q, &row ("rss-anon-one-machine")->q));
      }

  if (json)
    print_json (rounds);
  else
    print_table (rounds);

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      samples_clear (&rows[i].c);
      samples_clear (&rows[i].q);
    }
  return 0;
}
