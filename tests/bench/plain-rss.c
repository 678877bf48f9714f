/* plain-rss.c: the plain C client's resident memory with one machine
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Run by bench-qmachine: launches one QEMU, does one command, prints its
 * own VmRSS and RssAnon in KiB, shuts QEMU down. It links no GLib: the baseline is a
 * controller that carries nothing but the protocol.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plain-client.h"

static Plain client;

int
main (void)
{
  char status[4096];
  const char *rss, *anon;
  FILE *f;
  size_t n;

  if (getenv ("QMACHINE_TEST_QEMU") != NULL)
    plain_qemu = getenv ("QMACHINE_TEST_QEMU");

  plain_launch (&client);
  plain_send (&client, "{\"execute\":\"query-status\"}\n");
  plain_until_return (&client, NULL, NULL);

  if ((f = fopen ("/proc/self/status", "r")) == NULL)
    plain_die ("/proc/self/status", NULL);
  n = fread (status, 1, sizeof status - 1, f);
  fclose (f);
  status[n] = '\0';
  rss = strstr (status, "VmRSS:");
  anon = strstr (status, "RssAnon:");
  printf ("%ld %ld\n", rss ? strtol (rss + 6, NULL, 10) : -1L,
          anon ? strtol (anon + 8, NULL, 10) : -1L);

  plain_shutdown (&client);
  return 0;
}
