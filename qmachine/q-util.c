/* q-util.c: small helpers for files and QEMU's option syntax
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include <gio/gunixsocketaddress.h>

#include "q-util-private.h"

/* @value as one value of QEMU's option syntax (`key=VALUE,...`): commas
 * are doubled, the only character the syntax gives a meaning inside a
 * value. Control characters cannot be passed safely and are refused. */
char *
q_qemu_opt_quote (const char  *value,
                  const char  *what,
                  GError     **error)
{
  GString *s = g_string_sized_new (strlen (value) + 8);

  for (const char *p = value; *p; p++)
    {
      if ((guchar)*p < 0x20 || *p == 0x7f)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "The %s \"%s\" holds a control character, which cannot be passed "
                       "in a QEMU option", what, value);
          g_string_free (s, TRUE);
          return NULL;
        }
      if (*p == ',')
        g_string_append_c (s, ',');
      g_string_append_c (s, *p);
    }

  return g_string_free (s, FALSE);
}

/* @value as the first, implied value of an option (`-device TYPE,...`):
 * quoted as q_qemu_opt_quote() does, and neither empty nor starting with
 * `{`, which would make QEMU read the whole option as JSON. */
char *
q_qemu_opt_quote_implied (const char  *value,
                          const char  *what,
                          GError     **error)
{
  if (*value == '\0' || *value == '{')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The %s \"%s\" cannot be passed in a QEMU option: it is empty or "
                   "starts with '{'", what, value);
      return NULL;
    }
  return q_qemu_opt_quote (value, what, error);
}

/* A machine name names files: one path component, printable. */
gboolean
q_machine_name_is_valid (const char *name)
{
  if (name == NULL || *name == '\0' || g_str_equal (name, ".") || g_str_equal (name, ".."))
    return FALSE;
  for (const char *p = name; *p; p++)
    if (*p == '/' || (guchar)*p < 0x20 || *p == 0x7f)
      return FALSE;
  return g_utf8_validate (name, -1, NULL);
}

gboolean
q_check_socket_address (GSocketAddress  *address,
                        const char      *what,
                        GError         **error)
{
  if (G_IS_UNIX_SOCKET_ADDRESS (address) &&
      g_unix_socket_address_get_path_len (G_UNIX_SOCKET_ADDRESS (address)) > Q_MAX_UNIX_PATH)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
                   "The %s %s… is too long: unix socket paths can have at most %d bytes "
                   "here; use a shorter one",
                   what, g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (address)),
                   Q_MAX_UNIX_PATH);
      return FALSE;
    }
  return TRUE;
}

static char *
spawn_helper_candidate (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "qmachine-spawn-helper", NULL);

  if (g_path_is_absolute (path) && g_file_test (path, G_FILE_TEST_IS_REGULAR) &&
      access (path, X_OK) == 0)
    return g_steal_pointer (&path);
  return NULL;
}

/* The helper that QEMU is spawned through, looked up once:
 * - $QMACHINE_SPAWN_HELPER, an absolute path; set but anything else (""
 *   or "none") means no helper;
 * - beside the library itself: where a build tree keeps it;
 * - the installed one, in QMACHINE_LIBEXECDIR.
 * NULL when none is usable: QEMU is then forked with a child setup, as
 * fast on a machine where fork is cheap. */
const char *
q_spawn_helper_path (void)
{
  static gsize once;
  static char *path;

  if (g_once_init_enter (&once))
    {
      const char *env = g_getenv ("QMACHINE_SPAWN_HELPER");
      Dl_info info;

      if (env != NULL)
        {
          /* A program, not a directory. */
          if (g_path_is_absolute (env) && g_file_test (env, G_FILE_TEST_IS_REGULAR) &&
              access (env, X_OK) == 0)
            path = g_strdup (env);
        }
      else
        {
          if (dladdr ((void *)q_spawn_helper_path, &info) != 0 && info.dli_fname != NULL &&
              g_path_is_absolute (info.dli_fname))
            {
              g_autofree char *dir = g_path_get_dirname (info.dli_fname);
              path = spawn_helper_candidate (dir);
            }
          if (path == NULL)
            path = spawn_helper_candidate (QMACHINE_LIBEXECDIR);
        }
      g_debug ("Spawn helper: %s", path ? path : "none usable, QEMU will be forked");
      g_once_init_leave (&once, 1);
    }
  return path;
}
