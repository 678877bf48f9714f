/* plain-client.h: the least work a C program does to drive QEMU's QMP
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The benchmark's baseline: a socketpair, posix_spawn(), blocking reads
 * and writes of the shortest messages, string searches instead of a JSON
 * parser. No GLib, so that plain-rss measures a controller without it.
 */

#pragma once

#include <stddef.h>
#include <sys/types.h>

typedef struct
{
  pid_t  pid;
  int    fd;
  char   buf[65536];
  size_t len;      /* bytes in buf */
  size_t start;    /* first unconsumed byte */
  int    stage;    /* for the many-machines poll loop */
} Plain;

extern const char *plain_qemu;   /* the QEMU binary */

void  plain_die          (const char *what, void *unused);
void  plain_spawn        (Plain *p);
char *plain_line         (Plain *p);
void  plain_send         (Plain *p, const char *msg);
void  plain_until_return (Plain *p, void (*on_event) (const char *line, void *data), void *data);
void  plain_launch       (Plain *p);
void  plain_shutdown     (Plain *p);
