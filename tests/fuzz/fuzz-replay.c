/* fuzz-replay.c: runs every file of the fuzz corpus through the fuzz
 * target, as an ordinary test (no clang needed)
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <stdint.h>

#include <glib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
test_replay (gconstpointer data)
{
  const char *dir_path = data;
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *name;
  guint files = 0;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree char *path = g_build_filename (dir_path, name, NULL);
      g_autofree char *contents = NULL;
      gsize len;

      g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
      LLVMFuzzerTestOneInput ((const uint8_t *)contents, len);
      files++;
    }
  g_test_message ("%u corpus files replayed from %s", files, dir_path);
  g_assert_cmpuint (files, >, 0);
}

int
main (int argc, char **argv)
{
  g_autofree char *corpus = NULL;

  g_test_init (&argc, &argv, NULL);
  corpus = g_test_build_filename (G_TEST_DIST, "fuzz", "corpus", NULL);
  g_test_add_data_func ("/fuzz/replay", corpus, test_replay);
  return g_test_run ();
}
