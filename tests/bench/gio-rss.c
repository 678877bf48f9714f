/* gio-rss.c: the resident memory of the least GIO controller, one machine
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Run by bench-qmachine, like plain-rss: launches one QEMU with
 * GSubprocess, talks QMP over a GSocket with blocking calls on one thread
 * (no main loop, no worker), parses the replies with json-glib, prints
 * its own VmRSS and RssAnon in KiB, and quits QEMU. What any controller
 * built on the libraries qmachine uses holds before doing anything of
 * its own.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

static G_NORETURN void
die (const char *what,
     GError     *error)
{
  g_printerr ("gio-rss: %s: %s\n", what, error ? error->message : "failed");
  exit (1);
}

/* Sends @command and reads until a line with "return". */
static void
command (GSocket    *socket,
         const char *command)
{
  g_autoptr(GString) line = g_string_new (NULL);
  GError *error = NULL;
  char c;

  if (g_socket_send (socket, command, strlen (command), NULL, &error) < 0)
    die ("send", error);
  for (;;)
    {
      if (g_socket_receive (socket, &c, 1, NULL, &error) != 1)
        die ("receive", error);
      if (c != '\n')
        {
          g_string_append_c (line, c);
          continue;
        }
      {
        g_autoptr(JsonParser) parser = json_parser_new ();

        if (!json_parser_load_from_data (parser, line->str, line->len, &error))
          die ("parse", error);
        if (json_object_has_member (json_node_get_object (json_parser_get_root (parser)), "return"))
          return;
      }
      g_string_truncate (line, 0);
    }
}

static long
status_kib (const char *status,
            const char *key)
{
  const char *at = strstr (status, key);

  return at ? strtol (at + strlen (key), NULL, 10) : -1L;
}

int
main (void)
{
  const char *qemu = g_getenv ("QMACHINE_TEST_QEMU") ? g_getenv ("QMACHINE_TEST_QEMU")
                                                      : "qemu-system-x86_64";
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autofree char *status = NULL;
  GError *error = NULL;
  int sv[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    die ("socketpair", NULL);
  g_subprocess_launcher_take_fd (launcher, sv[1], 3);
  process = g_subprocess_launcher_spawn (launcher, &error, qemu, "-machine", "none", "-nodefaults",
                                         "-display", "none", "-chardev", "socket,id=mon,fd=3",
                                         "-mon", "chardev=mon,mode=control", NULL);
  if (process == NULL)
    die ("spawn", error);
  socket = g_socket_new_from_fd (sv[0], &error);
  if (socket == NULL)
    die ("socket", error);

  command (socket, "{\"execute\":\"qmp_capabilities\"}\n");
  command (socket, "{\"execute\":\"query-status\"}\n");

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, &error))
    die ("/proc/self/status", error);
  printf ("%ld %ld\n", status_kib (status, "VmRSS:"), status_kib (status, "RssAnon:"));

  command (socket, "{\"execute\":\"quit\"}\n");
  g_subprocess_wait (process, NULL, NULL);
  return 0;
}
