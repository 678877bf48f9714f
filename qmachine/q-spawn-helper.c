/* q-spawn-helper.c: qmachine-spawn-helper, the step between the spawn and QEMU
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GSubprocess spawns with posix_spawn (vfork and exec, about 0.5 ms here)
 * only when it runs no child setup and closes no descriptors; otherwise it
 * forks, which costs 4-6 ms a launch on a paravirtualised machine. QEMU
 * needs both: PR_SET_PDEATHSIG, so that it dies with its controller, and
 * no descriptor but the ones it is given. So the library spawns this
 * program the fast way, and it does the two things and execs QEMU:
 *
 *   qmachine-spawn-helper MAGIC PARENT REPORT KEEP PATH ARGV0 [ARG...]
 *
 * MAGIC      "qmachine-spawn-1": the protocol, checked
 * PARENT     the controller's pid: if it is already gone, exit
 * REPORT     a descriptor, close-on-exec from here on: a failed exec
 *            writes its errno there (4 bytes); a good one closes it
 * KEEP       descriptors above 2 that QEMU gets, comma-separated (may be
 *            empty); every other one is closed
 * PATH       the program to execute (found on PATH by the library)
 * ARGV0...   its argument vector, from its argv[0]
 *
 * Exit status 127 and a line on stderr when anything fails before exec.
 *
 * It is built without the C library where the few system calls below are
 * written for the architecture (x86-64): starting a static C library
 * costs about a millisecond of exec here, a third of what the helper saves.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <signal.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#define MAGIC "qmachine-spawn-1"
#define MAX_KEEP 256   /* Q_SPAWN_HELPER_MAX_KEEP in the library */

#ifdef Q_SPAWN_HELPER_NOLIBC

/* A system call with up to four arguments; a negative errno on failure. */
static long
sys4 (long number,
      long a,
      long b,
      long c,
      long d)
{
  long ret;
  register long r10 __asm__ ("r10") = d;

  __asm__ volatile ("syscall"
                    : "=a" (ret)
                    : "a" (number), "D" (a), "S" (b), "d" (c), "r" (r10)
                    : "rcx", "r11", "memory");
  return ret;
}

/* What a compiler may call even here (clang at -O0 zeroes arrays with
 * memset). Through volatile pointers, so that these loops are not turned
 * into calls to themselves. */
void *memset (void *to, int byte, unsigned long n);
void *memcpy (void *to, const void *from, unsigned long n);

void *
memset (void          *to,
        int            byte,
        unsigned long  n)
{
  volatile unsigned char *p = to;

  while (n-- > 0)
    *p++ = (unsigned char)byte;
  return to;
}

void *
memcpy (void          *to,
        const void    *from,
        unsigned long  n)
{
  volatile unsigned char *p = to;
  const volatile unsigned char *q = from;

  while (n-- > 0)
    *p++ = *q++;
  return to;
}

#else

#include <unistd.h>

/* The C library's syscall() returns -1 and sets errno; the raw
 * convention (a negative errno) is what the code below expects. */
static long
sys4 (long number,
      long a,
      long b,
      long c,
      long d)
{
  long ret = syscall (number, a, b, c, d);

  return ret == -1 ? -errno : ret;
}

#endif

static long
sys3 (long number,
      long a,
      long b,
      long c)
{
  return sys4 (number, a, b, c, 0);
}

static unsigned long
text_length (const char *s)
{
  unsigned long n = 0;

  while (s[n] != '\0')
    n++;
  return n;
}

static void
say (const char *s)
{
  sys3 (SYS_write, 2, (long)s, (long)text_length (s));
}

static void
fail (const char *what,
      const char *detail)
{
  say ("qmachine-spawn-helper: ");
  say (what);
  if (detail != NULL)
    {
      say (": ");
      say (detail);
    }
  say ("\n");
  sys3 (SYS_exit_group, 127, 0, 0);
  for (;;)
    ;
}

/* A decimal number at *s, up to a comma or the end; -1 when there is none
 * or it is out of range. */
static long
parse_number (const char **s)
{
  long value = 0;
  int digits = 0;

  while (**s >= '0' && **s <= '9' && digits < 10)
    {
      value = value * 10 + (**s - '0');
      (*s)++;
      digits++;
    }
  if (digits == 0 || value > 2147483647 || (**s != '\0' && **s != ','))
    return -1;
  return value;
}

static int
streq (const char *a,
       const char *b)
{
  while (*a != '\0' && *a == *b)
    a++, b++;
  return *a == *b;
}

static int
kept (const long *keep,
      int         n_keep,
      long        fd)
{
  for (int i = 0; i < n_keep; i++)
    if (keep[i] == fd)
      return 1;
  return 0;
}

/* Closes every descriptor from 3 up but the kept ones, with close_range
 * (Linux 5.9) over the gaps between them, in increasing order. FALSE when
 * the kernel has no close_range. */
static int
close_by_ranges (const long *keep,
                 int         n_keep)
{
#ifdef SYS_close_range
  unsigned long lo = 3;

  for (;;)
    {
      long next = -1;

      for (int i = 0; i < n_keep; i++)
        if ((unsigned long)keep[i] >= lo && (next < 0 || keep[i] < next))
          next = keep[i];
      if (next < 0)
        return sys3 (SYS_close_range, (long)lo, ~0U, 0) == 0;
      if ((unsigned long)next > lo &&
          sys3 (SYS_close_range, (long)lo, next - 1, 0) != 0)
        return 0;
      lo = (unsigned long)next + 1;
    }
#else
  return 0;
#endif
}

struct dirent64_head
{
  unsigned long long ino;
  long long          off;
  unsigned short     reclen;
  unsigned char      type;
  char               name[];
};

/* Without close_range: the open descriptors as /proc lists them. FALSE
 * without /proc. */
static int
close_by_listing (const long *keep,
                  int         n_keep)
{
  char buf[4096] __attribute__((aligned (8)));
  long dir = sys4 (SYS_openat, AT_FDCWD, (long)"/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  long got;

  if (dir < 0)
    return 0;
  if ((got = sys3 (SYS_getdents64, dir, (long)buf, sizeof buf)) < 0)
    {
      sys3 (SYS_close, dir, 0, 0);
      return 0;
    }
  for (; got > 0; got = sys3 (SYS_getdents64, dir, (long)buf, sizeof buf))
    {
      for (long at = 0; at < got;)
        {
          struct dirent64_head *entry = (struct dirent64_head *)(buf + at);
          const char *name = entry->name;
          long fd = parse_number (&name);

          if (fd > 2 && fd != dir && !kept (keep, n_keep, fd))
            sys3 (SYS_close, fd, 0, 0);
          at += entry->reclen;
        }
    }
  sys3 (SYS_close, dir, 0, 0);
  return 1;
}

/* The last resort: every number below the descriptor limit. */
static void
close_by_counting (const long *keep,
                   int         n_keep)
{
  struct { unsigned long long cur, max; } limit;

  if (sys4 (SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)&limit) != 0 || limit.cur > 1 << 20)
    limit.cur = 1 << 20;
  for (long fd = 3; (unsigned long long)fd < limit.cur; fd++)
    if (!kept (keep, n_keep, fd))
      sys3 (SYS_close, fd, 0, 0);
}

/* SIGPIPE, which GSocket makes the controller ignore, and glibc's
 * internal signals (32, 33): glibc's posix_spawn leaves an ignored signal
 * ignored, and GLib's asks it to reset only SIGCHLD, SIGINT, SIGTERM and
 * SIGHUP (its fork path also resets SIGPIPE). QEMU, a wrapper and their
 * children start with the default dispositions, and nothing blocked. An
 * all-zero kernel struct sigaction is SIG_DFL, no flags and an empty mask
 * whatever its layout. */
#ifdef Q_SPAWN_HELPER_NOLIBC
#define SIGSET_BYTES 8
#else
#define SIGSET_BYTES (_NSIG / 8)
#endif

static void
reset_signals (void)
{
  static const int signals[] = { SIGPIPE, 32, 33 };
  unsigned long none[SIGSET_BYTES / sizeof (unsigned long) + 1] = { 0 };

  for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++)
    {
      unsigned long action[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };

      sys4 (SYS_rt_sigaction, signals[i], (long)action, 0, SIGSET_BYTES);
    }
  sys4 (SYS_rt_sigprocmask, SIG_SETMASK, (long)none, 0, SIGSET_BYTES);
}

static int
run (int    argc,
     char **argv,
     char **envp)
{
  long keep[MAX_KEEP];
  int n_keep = 0;
  long parent, report, error;
  const char *s;

  if (argc < 7 || !streq (argv[1], MAGIC))
    fail ("not called the way qmachine calls it", NULL);

  /* Before anything else: from here on the controller's death is ours. */
  sys3 (SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0);
  s = argv[2];
  parent = parse_number (&s);
  if (parent <= 0 || sys3 (SYS_getppid, 0, 0, 0) != parent)
    fail ("the controller is gone", NULL);

  s = argv[3];
  report = parse_number (&s);
  if (report < 3)
    fail ("bad report descriptor", argv[3]);
  keep[n_keep++] = report;
  s = argv[4];
  while (*s != '\0')
    {
      long fd = parse_number (&s);

      if (fd < 3 || n_keep == MAX_KEEP)
        fail ("bad descriptor list", argv[4]);
      keep[n_keep++] = fd;
      if (*s == ',')
        s++;
    }

  if (!close_by_ranges (keep, n_keep) && !close_by_listing (keep, n_keep))
    close_by_counting (keep, n_keep);
  reset_signals ();

  if (sys3 (SYS_fcntl, report, F_SETFD, FD_CLOEXEC) != 0)
    fail ("cannot set up the report descriptor", argv[3]);
  error = sys3 (SYS_execve, (long)argv[5], (long)(argv + 6), (long)envp);
  if (error == -ENOEXEC)
    {
      /* A script without "#!": the shell runs it, as GLib's own spawn
       * does. Its argument vector, in place: sh PATH ARG... */
      argv[6] = argv[5];
      argv[5] = (char *)"/bin/sh";
      error = sys3 (SYS_execve, (long)argv[5], (long)(argv + 5), (long)envp);
      argv[5] = argv[6];
    }

  /* Still here: say why to the library, or, if it stopped listening
   * (its wait is bounded), to the log. SIGPIPE is the default again by
   * now, and a closed pipe must not kill us silently. */
  {
    unsigned long ignore[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
    int code = (int)-error;

    sys4 (SYS_rt_sigaction, SIGPIPE, (long)ignore, 0, SIGSET_BYTES);
    if (sys3 (SYS_write, report, (long)&code, sizeof code) == sizeof code)
      sys3 (SYS_exit_group, 127, 0, 0);
  }
  fail ("cannot execute", argv[5]);
  return 127;
}

#ifdef Q_SPAWN_HELPER_NOLIBC

/* The kernel's entry: argc, argv and envp on the stack. */
__attribute__((used)) void q_spawn_helper_start (long *stack);

__attribute__((used)) void
q_spawn_helper_start (long *stack)
{
  int argc = (int)stack[0];
  char **argv = (char **)(stack + 1);

  sys3 (SYS_exit_group, run (argc, argv, argv + argc + 1), 0, 0);
}

__asm__ (".text\n"
         ".global _start\n"
         "_start:\n"
         "  xor %rbp, %rbp\n"
         "  mov %rsp, %rdi\n"
         "  and $-16, %rsp\n"
         "  call q_spawn_helper_start\n"
         "  hlt\n");

#else

int
main (int    argc,
      char **argv)
{
  return run (argc, argv, environ);
}

#endif
