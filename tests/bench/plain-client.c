/* plain-client.c: the least work a C program does to drive QEMU's QMP
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plain-client.h"

const char *plain_qemu = "qemu-system-x86_64";

void
plain_die (const char *what,
           void       *unused)
{
  fprintf (stderr, "plain client: %s: %s\n", what, strerror (errno));
  exit (1);
}

/* Starts QEMU with the monitor on a socketpair at fd 3, as qmachine does. */
void
plain_spawn (Plain *p)
{
  char *argv[] = {
    (char *)plain_qemu, "-display", "none", "-vga", "none",
    "-chardev", "socket,id=mon,fd=3", "-mon", "chardev=mon,mode=control",
    "-machine", "none", "-nodefaults", NULL,
  };
  posix_spawn_file_actions_t fa;
  int sv[2];
  int child;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    plain_die ("socketpair", NULL);
  child = sv[1];
  if (child == 3)
    {
      child = fcntl (sv[1], F_DUPFD_CLOEXEC, 4);
      close (sv[1]);
    }
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen (&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2 (&fa, 1, 2);
  posix_spawn_file_actions_adddup2 (&fa, child, 3);
  if (posix_spawnp (&p->pid, plain_qemu, &fa, NULL, argv, environ) != 0)
    plain_die ("posix_spawnp", NULL);
  posix_spawn_file_actions_destroy (&fa);
  close (child);
  p->fd = sv[0];
  p->len = p->start = 0;
  p->stage = 0;
}

/* The next complete line, blocking; NULL at end of file. */
char *
plain_line (Plain *p)
{
  for (;;)
    {
      char *nl = memchr (p->buf + p->start, '\n', p->len - p->start);
      ssize_t n;

      if (nl != NULL)
        {
          char *line = p->buf + p->start;
          *nl = '\0';
          p->start = nl + 1 - p->buf;
          return line;
        }
      if (p->start > 0)
        {
          memmove (p->buf, p->buf + p->start, p->len - p->start);
          p->len -= p->start;
          p->start = 0;
        }
      n = read (p->fd, p->buf + p->len, sizeof p->buf - p->len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return NULL;
      p->len += n;
    }
}

void
plain_send (Plain      *p,
            const char *msg)
{
  size_t len = strlen (msg);

  if (write (p->fd, msg, len) != (ssize_t)len)
    plain_die ("write", NULL);
}

/* Reads until a reply; events met on the way go to @on_event. */
void
plain_until_return (Plain *p,
                    void (*on_event) (const char *line, void *data),
                    void *data)
{
  char *line;

  while ((line = plain_line (p)) != NULL)
    {
      if (strstr (line, "\"return\"") || strstr (line, "\"error\""))
        return;
      if (on_event && strstr (line, "\"event\""))
        on_event (line, data);
    }
  plain_die ("QEMU closed the monitor", NULL);
}

void
plain_launch (Plain *p)
{
  char *line;

  plain_spawn (p);
  if ((line = plain_line (p)) == NULL || strstr (line, "\"QMP\"") == NULL)
    plain_die ("no QMP greeting", NULL);
  plain_send (p, "{\"execute\":\"qmp_capabilities\"}\n");
  plain_until_return (p, NULL, NULL);
}

void
plain_shutdown (Plain *p)
{
  int status;

  plain_send (p, "{\"execute\":\"quit\"}\n");
  while (plain_line (p) != NULL)
    ;
  close (p->fd);
  p->fd = -1;
  while (waitpid (p->pid, &status, 0) < 0 && errno == EINTR)
    ;
}

