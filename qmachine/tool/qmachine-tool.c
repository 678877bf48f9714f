/* qmachine-tool.c: the qmachine command-line tool
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <gio/gunixinputstream.h>

#include <gio/gunixsocketaddress.h>
#include <qmachine.h>

#include "term-filter.h"

/* Exit codes (documented in docs/tool.md). */
enum {
  EXIT_OK = 0,
  EXIT_FAILURE_ = 1,      /* launch failed, a shell command failed, abnormal shutdown */
  EXIT_USAGE = 2,
};

typedef struct
{
  GMainLoop        *loop;
  QMachine         *machine;
  QConsole         *console;
  GDataInputStream *stdin_lines;
  GCancellable     *cancellable;
  gboolean          want_console;
  gboolean          want_agent;
  gboolean          qmp_shell;
  char             *wait_pattern;
  int               timeout_msec;
  int               status;
  gboolean          stopping;
  gboolean          had_error;
  gboolean          launched;     /* launch completed: exits are ours to handle */
  GString          *partial;      /* console output after its last newline */
  guint             partial_flush;
  TermFilter        filter;       /* keeps the guest's terminal queries off ours */
} Tool;

static void tool_read_next (Tool *tool);
static void tool_stop      (Tool *tool, const char *why);

static void
print_json_object (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;

  json_node_set_object (node, object);
  json_generator_set_root (gen, node);
  text = json_generator_to_data (gen, NULL);
  g_print ("%s\n", text);
  fflush (stdout);
}

static void
event_cb (QMachine   *machine,
          const char *name,
          JsonObject *event,
          Tool       *tool)
{
  print_json_object (event);
}

/* Console text is printed in whole lines, so that it never interleaves
 * mid-line with the JSON lines of events and replies; a partial line (a
 * prompt) is printed once the console has been quiet for a moment, or at
 * the end. */
static void
flush_partial (Tool *tool)
{
  g_clear_handle_id (&tool->partial_flush, g_source_remove);
  if (tool->partial->len > 0)
    {
      fwrite (tool->partial->str, 1, tool->partial->len, stdout);
      fflush (stdout);
      g_string_truncate (tool->partial, 0);
    }
}

static gboolean
flush_partial_cb (gpointer data)
{
  Tool *tool = data;

  tool->partial_flush = 0;
  flush_partial (tool);
  return G_SOURCE_REMOVE;
}

static void
output_cb (QConsole *console,
           GBytes   *chunk,
           Tool     *tool)
{
  gsize len;
  const char *data = g_bytes_get_data (chunk, &len);
  const char *nl;

  if (!tool->want_console)
    return;

  term_filter_feed (&tool->filter, data, len, tool->partial);
  nl = memrchr (tool->partial->str, '\n', tool->partial->len);
  if (nl != NULL)
    {
      gsize whole = nl - tool->partial->str + 1;

      fwrite (tool->partial->str, 1, whole, stdout);
      fflush (stdout);
      g_string_erase (tool->partial, 0, whole);
    }
  g_clear_handle_id (&tool->partial_flush, g_source_remove);
  if (tool->partial->len > 0)
    tool->partial_flush = g_timeout_add (200, flush_partial_cb, tool);
}

static void
exited_cb (QMachine *machine,
           int       exit_code,
           Tool     *tool)
{
  /* A launch failure is reported (with QEMU's own words) by launch_cb. */
  if (!tool->launched)
    return;
  g_printerr ("qmachine: QEMU exited with code %d\n", exit_code);
  if (exit_code != 0 && tool->status == EXIT_OK)
    tool->status = exit_code > 0 ? exit_code : 128 - exit_code;
  tool_stop (tool, NULL);
}

static void
shutdown_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Tool *tool = user_data;
  g_autoptr(GError) error = NULL;

  if (!q_machine_shutdown_finish (Q_MACHINE (object), result, &error))
    {
      g_printerr ("qmachine: %s\n", error->message);
      tool->status = EXIT_FAILURE_;
    }
  g_main_loop_quit (tool->loop);
}

/* Shuts QEMU down (gracefully) and quits; idempotent. */
static void
tool_stop (Tool       *tool,
           const char *why)
{
  if (tool->stopping)
    return;
  tool->stopping = TRUE;
  if (why != NULL)
    g_printerr ("qmachine: %s, shutting down\n", why);
  g_cancellable_cancel (tool->cancellable);
  q_machine_shutdown_async (tool->machine, Q_MACHINE_SHUTDOWN_FLAGS_NONE, tool->timeout_msec,
                            NULL, shutdown_cb, tool);
}

static gboolean
on_signal (gpointer data)
{
  tool_stop (data, "interrupted");
  return G_SOURCE_CONTINUE;
}

static void
command_failed (Tool         *tool,
                const char   *what,
                const GError *error)
{
  g_autoptr(JsonObject) obj = json_object_new ();
  JsonObject *err = json_object_new ();

  json_object_set_string_member (err, "class", "qmachine");
  json_object_set_string_member (err, "desc", error->message);
  json_object_set_object_member (obj, "error", err);
  print_json_object (obj);
  g_printerr ("qmachine: %s: %s\n", what, error->message);
  tool->had_error = TRUE;
}

static void
qmp_done_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Tool *tool = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) response = q_machine_qmp_finish (Q_MACHINE (object), result, &error);

  if (response == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        command_failed (tool, "QMP command", error);
    }
  else
    {
      json_object_remove_member (response, "id");
      print_json_object (response);
    }
  tool_read_next (tool);
}

static void
event_wait_done_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Tool *tool = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) event = q_machine_event_wait_finish (Q_MACHINE (object), result, &error);

  /* The event itself was printed by the signal handler. */
  if (event == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    command_failed (tool, "wait-event", error);
  tool_read_next (tool);
}

static void
console_wait_done_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  Tool *tool = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *seen = q_console_wait_for_finish (Q_CONSOLE (object), result, &error);

  if (seen == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    command_failed (tool, "wait-console", error);
  else if (seen != NULL)
    g_printerr ("qmachine: console matched \"%s\"\n", seen);
  tool_read_next (tool);
}

static void
agent_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  Tool *tool = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = q_guest_agent_execute_finish (Q_GUEST_AGENT (object), result, &error);

  if (ret == NULL)
    command_failed (tool, "agent", error);
  else
    {
      g_autoptr(JsonObject) obj = json_object_new ();
      json_object_set_member (obj, "return", g_steal_pointer (&ret));
      print_json_object (obj);
    }
  tool_read_next (tool);
}

/* Text for a JSON string: invalid UTF-8 is replaced. */
static char *
bytes_to_text (GBytes *bytes)
{
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  return len > 0 ? g_utf8_make_valid (data, len) : g_strdup ("");
}

static void
agent_exec_done_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Tool *tool = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) err = NULL;
  int status;

  if (!q_guest_agent_exec_finish (Q_GUEST_AGENT (object), result, &status, &out, &err, &error))
    command_failed (tool, "agent-exec", error);
  else
    {
      g_autoptr(JsonObject) obj = json_object_new ();
      g_autofree char *out_text = bytes_to_text (out);
      g_autofree char *err_text = bytes_to_text (err);

      json_object_set_int_member (obj, "exit-status", status);
      json_object_set_string_member (obj, "stdout", out_text);
      json_object_set_string_member (obj, "stderr", err_text);
      print_json_object (obj);
      if (status != 0)
        tool->had_error = TRUE;
    }
  tool_read_next (tool);
}

static void
screendump_done_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Tool *tool = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) png = q_machine_screendump_finish (Q_MACHINE (object), result, &error);
  const char *path = g_object_get_data (G_OBJECT (object), "qmachine-tool-screendump");

  if (png == NULL ||
      !g_file_set_contents (path, g_bytes_get_data (png, NULL), g_bytes_get_size (png), &error))
    command_failed (tool, "screendump", error);
  else
    {
      g_autoptr(JsonObject) obj = json_object_new ();
      JsonObject *ret = json_object_new ();

      json_object_set_string_member (ret, "file", path);
      json_object_set_int_member (ret, "bytes", g_bytes_get_size (png));
      json_object_set_object_member (obj, "return", ret);
      print_json_object (obj);
    }
  tool_read_next (tool);
}

static void
input_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  Tool *tool = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  if (g_task_get_source_tag (G_TASK (result)) == q_machine_send_keys_async)
    ok = q_machine_send_keys_finish (Q_MACHINE (object), result, &error);
  else
    ok = q_machine_send_text_finish (Q_MACHINE (object), result, &error);
  if (!ok)
    command_failed (tool, "input", error);
  else
    {
      g_autoptr(JsonObject) obj = json_object_new ();
      json_object_set_object_member (obj, "return", json_object_new ());
      print_json_object (obj);
    }
  tool_read_next (tool);
}

static void
console_write_done_cb (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  Tool *tool = user_data;
  g_autoptr(GError) error = NULL;

  if (!q_console_write_finish (Q_CONSOLE (object), result, &error))
    command_failed (tool, "console", error);
  tool_read_next (tool);
}

/* One line of the shell: `cmd NAME [JSON-ARGS]`, a raw QMP object,
 * `wait-event NAME [SECONDS]`, `wait-console PATTERN`, `console TEXT`. */
static void
tool_handle_line (Tool       *tool,
                  const char *line)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) words = NULL;

  while (g_ascii_isspace (*line))
    line++;
  if (*line == '\0' || *line == '#')
    {
      tool_read_next (tool);
      return;
    }

  if (*line == '{')
    {
      g_autoptr(JsonNode) node = json_from_string (line, &error);
      JsonObject *obj;
      const char *name;

      if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
        {
          if (error == NULL)
            error = g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not a JSON object");
          command_failed (tool, "raw QMP", error);
          tool_read_next (tool);
          return;
        }
      obj = json_node_get_object (node);
      name = json_object_get_string_member_with_default (obj, "execute", NULL);
      if (name == NULL)
        {
          error = g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "no \"execute\" member");
          command_failed (tool, "raw QMP", error);
          tool_read_next (tool);
          return;
        }
      {
        JsonNode *args = json_object_get_member (obj, "arguments");
        q_machine_qmp_async (tool->machine, name,
                             args && JSON_NODE_HOLDS_OBJECT (args) ? json_node_get_object (args) : NULL,
                             tool->cancellable, qmp_done_cb, tool);
      }
      return;
    }

  words = g_strsplit (line, " ", 2);
  if (g_str_equal (words[0], "cmd") && words[1] != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (g_strstrip (words[1]), " ", 2);
      g_autoptr(JsonNode) args = NULL;

      if (parts[1] != NULL)
        {
          args = json_from_string (parts[1], &error);
          if (args == NULL || !JSON_NODE_HOLDS_OBJECT (args))
            {
              if (error == NULL)
                error = g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                     "the arguments must be a JSON object");
              command_failed (tool, "cmd", error);
              tool_read_next (tool);
              return;
            }
        }
      q_machine_qmp_async (tool->machine, parts[0], args ? json_node_get_object (args) : NULL,
                           tool->cancellable, qmp_done_cb, tool);
      return;
    }

  if (g_str_equal (words[0], "wait-event") && words[1] != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (g_strstrip (words[1]), " ", 2);
      int timeout = parts[1] ? (int)(g_ascii_strtod (parts[1], NULL) * 1000) : tool->timeout_msec;

      q_machine_event_wait_async (tool->machine, parts[0], NULL, timeout,
                                  tool->cancellable, event_wait_done_cb, tool);
      return;
    }

  if ((g_str_equal (words[0], "wait-console") || g_str_equal (words[0], "console")) &&
      words[1] != NULL)
    {
      if (tool->console == NULL)
        {
          error = g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_NO_CONNECTION,
                               "no console: run with --console");
          command_failed (tool, words[0], error);
          tool_read_next (tool);
        }
      else if (g_str_equal (words[0], "console"))
        {
          g_autofree char *text = g_strconcat (words[1], "\n", NULL);
          g_autoptr(GBytes) bytes = g_bytes_new (text, strlen (text));
          q_console_write_async (tool->console, bytes, tool->cancellable, console_write_done_cb, tool);
        }
      else
        q_console_wait_for_async (tool->console, words[1], Q_CONSOLE_MATCH_FLAGS_NONE,
                                  tool->timeout_msec, tool->cancellable, console_wait_done_cb, tool);
      return;
    }

  if (g_str_equal (words[0], "screendump") && words[1] != NULL)
    {
      g_object_set_data_full (G_OBJECT (tool->machine), "qmachine-tool-screendump",
                              g_strdup (g_strstrip (words[1])), g_free);
      q_machine_screendump_async (tool->machine, NULL, -1, tool->cancellable,
                                  screendump_done_cb, tool);
      return;
    }

  if (g_str_equal (words[0], "sendkey") && words[1] != NULL)
    {
      q_machine_send_keys_async (tool->machine, g_strstrip (words[1]), -1, tool->cancellable,
                                 input_done_cb, tool);
      return;
    }

  if (g_str_equal (words[0], "type") && words[1] != NULL)
    {
      g_autofree char *text = g_strcompress (words[1]);
      q_machine_send_text_async (tool->machine, text, tool->cancellable, input_done_cb, tool);
      return;
    }

  if ((g_str_equal (words[0], "agent") || g_str_equal (words[0], "agent-exec")) && words[1] != NULL)
    {
      QGuestAgent *agent = q_machine_get_guest_agent (tool->machine);

      if (agent == NULL)
        {
          error = g_error_new (Q_MACHINE_ERROR, Q_MACHINE_ERROR_NO_CONNECTION,
                               "no guest agent channel: run with --guest-agent");
          command_failed (tool, words[0], error);
          tool_read_next (tool);
        }
      else if (g_str_equal (words[0], "agent-exec"))
        {
          const char *argv[] = { "sh", "-c", words[1], NULL };
          q_guest_agent_exec_async (agent, argv, NULL, NULL, tool->timeout_msec,
                                    tool->cancellable, agent_exec_done_cb, tool);
        }
      else
        {
          g_auto(GStrv) parts = g_strsplit (g_strstrip (words[1]), " ", 2);
          g_autoptr(JsonNode) args = NULL;

          if (parts[1] != NULL &&
              (!(args = json_from_string (parts[1], &error)) || !JSON_NODE_HOLDS_OBJECT (args)))
            {
              if (error == NULL)
                error = g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                     "the arguments must be a JSON object");
              command_failed (tool, "agent", error);
              tool_read_next (tool);
              return;
            }
          q_guest_agent_execute_async (agent, parts[0], args ? json_node_get_object (args) : NULL,
                                       tool->cancellable, agent_done_cb, tool);
        }
      return;
    }

  error = g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "unknown command \"%s\" (try: cmd NAME [ARGS], {raw QMP}, "
                       "wait-event NAME [SECONDS], wait-console TEXT, console TEXT, "
                       "agent NAME [ARGS], agent-exec COMMAND, screendump FILE, "
                       "sendkey COMBO, type TEXT)", words[0]);
  command_failed (tool, "shell", error);
  tool_read_next (tool);
}

static void
line_read_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Tool *tool = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (object),
                                                                     result, NULL, &error);

  if (tool->stopping)
    return;
  if (line == NULL)
    {
      if (error != NULL)
        g_printerr ("qmachine: reading stdin: %s\n", error->message);
      tool_stop (tool, "end of input");
      return;
    }

  if (tool->qmp_shell)
    tool_handle_line (tool, line);
  else
    {
      /* Console mode: lines typed go to the guest. */
      g_autofree char *text = g_strconcat (line, "\n", NULL);
      g_autoptr(GBytes) bytes = g_bytes_new (text, strlen (text));
      q_console_write_async (tool->console, bytes, tool->cancellable, console_write_done_cb, tool);
    }
}

static void
tool_read_next (Tool *tool)
{
  if (tool->stopping || tool->stdin_lines == NULL)
    return;
  g_data_input_stream_read_line_async (tool->stdin_lines, G_PRIORITY_DEFAULT,
                                       tool->cancellable, line_read_cb, tool);
}

static void
ready_wait_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  Tool *tool = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *seen = q_console_wait_for_finish (Q_CONSOLE (object), result, &error);

  if (seen == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_printerr ("qmachine: %s\n", error->message);
          tool->status = EXIT_FAILURE_;
          tool_stop (tool, NULL);
        }
      return;
    }
  g_printerr ("qmachine: console matched \"%s\"\n", seen);
  tool_read_next (tool);
}

/* A launch error lists QEMU's output on an "Output:" line, which is
 * empty when QEMU printed nothing: the tool leaves that line out. */
static void
print_launch_error (const GError *error)
{
  g_auto(GStrv) lines = g_strsplit (error->message, "\n", -1);
  g_autoptr(GString) message = g_string_new (NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *bare = g_strstrip (g_strdup (lines[i]));

      if (g_str_equal (bare, "Output:"))
        continue;
      if (message->len > 0)
        g_string_append_c (message, '\n');
      g_string_append (message, lines[i]);
    }
  g_printerr ("qmachine: %s\n", message->str);
}

static void
launch_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  Tool *tool = user_data;
  g_autoptr(GError) error = NULL;

  if (!q_machine_launch_finish (Q_MACHINE (object), result, &error))
    {
      print_launch_error (error);
      tool->status = EXIT_FAILURE_;
      g_main_loop_quit (tool->loop);
      return;
    }

  tool->launched = TRUE;
  g_printerr ("qmachine: QEMU running (pid %d)\n", q_machine_get_pid (tool->machine));
  tool->console = q_machine_get_console (tool->machine);

  if (tool->qmp_shell || tool->want_console)
    {
      GInputStream *in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
      tool->stdin_lines = g_data_input_stream_new (in);
      g_object_unref (in);
    }

  if (tool->wait_pattern != NULL && tool->console != NULL)
    q_console_wait_for_async (tool->console, tool->wait_pattern, Q_CONSOLE_MATCH_FLAGS_NONE,
                              tool->timeout_msec, tool->cancellable, ready_wait_cb, tool);
  else
    tool_read_next (tool);
}

/* Levenshtein distance between A and B. */
static guint
edit_distance (const char *a,
               const char *b)
{
  gsize len_b = strlen (b);
  g_autofree guint *row = g_new (guint, len_b + 1);

  for (gsize j = 0; j <= len_b; j++)
    row[j] = j;
  for (gsize i = 1; a[i - 1] != '\0'; i++)
    {
      guint diagonal = row[0];

      row[0] = i;
      for (gsize j = 1; j <= len_b; j++)
        {
          guint above = row[j];

          row[j] = MIN (MIN (row[j] + 1, row[j - 1] + 1),
                        diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
          diagonal = above;
        }
    }
  return row[len_b];
}

static int
compare_distance (gconstpointer a,
                  gconstpointer b,
                  gpointer      user_data)
{
  const char *compare_to = user_data;
  const char *name_a = *(const char * const *)a;
  const char *name_b = *(const char * const *)b;
  /* A name cut short (qemu-system-x86) means a longer one. */
  int d = (int)g_str_has_prefix (name_b, compare_to) - (int)g_str_has_prefix (name_a, compare_to);

  if (d == 0)
    d = (int)edit_distance (compare_to, name_a) - (int)edit_distance (compare_to, name_b);
  return d != 0 ? d : strcmp (name_a, name_b);
}

/* The qemu-system-* programs on PATH, those nearest to NAME first. */
static GPtrArray *
qemu_binaries_near (const char *name)
{
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) dirs = g_strsplit (g_getenv ("PATH") ? g_getenv ("PATH") : "", ":", -1);

  for (guint i = 0; dirs[i] != NULL; i++)
    {
      g_autoptr(GDir) dir = g_dir_open (*dirs[i] ? dirs[i] : ".", 0, NULL);
      const char *entry;

      while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (dirs[i], entry, NULL);

          if (g_str_has_prefix (entry, "qemu-system-") &&
              g_file_test (path, G_FILE_TEST_IS_EXECUTABLE) &&
              !g_ptr_array_find_with_equal_func (found, entry, g_str_equal, NULL))
            g_ptr_array_add (found, g_strdup (entry));
        }
    }
  g_ptr_array_sort_with_data (found, compare_distance, (gpointer)name);
  return g_steal_pointer (&found);
}

/* The Debian package of the qemu-system-ARCH program NAME, or NULL. */
static const char *
debian_package_of (const char *name)
{
  static const struct {
    const char *package;
    const char *arches;
  } packages[] = {
    { "qemu-system-x86", " i386 x86_64 x86_64-microvm " },
    { "qemu-system-arm", " aarch64 arm " },
    { "qemu-system-mips", " mips mipsel mips64 mips64el " },
    { "qemu-system-ppc", " ppc ppc64 " },
    { "qemu-system-sparc", " sparc sparc64 " },
    { "qemu-system-misc", " alpha avr cris hppa loongarch64 m68k microblaze microblazeel nios2 "
                          "or1k riscv32 riscv64 rx s390x sh4 sh4eb tricore xtensa xtensaeb " },
  };
  g_autofree char *arch = NULL;

  if (!g_str_has_prefix (name, "qemu-system-"))
    return NULL;
  arch = g_strdup_printf (" %s ", name + strlen ("qemu-system-"));
  for (gsize i = 0; i < G_N_ELEMENTS (packages); i++)
    if (strstr (packages[i].arches, arch) != NULL)
      return packages[i].package;
  return NULL;
}

/* Whether dpkg says PACKAGE is installed: TRUE, FALSE, or -1 without dpkg. */
static int
debian_package_installed (const char *package)
{
  const char *argv[] = { "dpkg-query", "-W", "-f=${Status}", package, NULL };
  g_autofree char *out = NULL;
  int wait_status;

  if (!g_spawn_sync (NULL, (char **)argv, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, &out, NULL, &wait_status, NULL))
    return -1;
  return g_spawn_check_wait_status (wait_status, NULL) && g_str_has_suffix (out, " installed");
}

/* Before launching: a BINARY that is not there, said with what to do
 * about it. FALSE when it is missing. */
static gboolean
check_binary (const char *binary)
{
  g_autofree char *found = NULL;
  g_autoptr(GPtrArray) near = NULL;
  const char *package;

  if (strchr (binary, '/') != NULL)
    {
      if (g_file_test (binary, G_FILE_TEST_EXISTS))
        return TRUE;
      g_printerr ("qmachine: the QEMU binary %s does not exist\n", binary);
      return FALSE;
    }
  if ((found = g_find_program_in_path (binary)) != NULL)
    return TRUE;

  g_printerr ("qmachine: the QEMU binary %s is not on PATH\n", binary);
  package = debian_package_of (binary);
  if (package != NULL && debian_package_installed (package) == FALSE)
    {
      g_printerr ("qmachine: it comes with Debian's %s package: apt-get install %s\n",
                  package, package);
      return FALSE;
    }
  near = qemu_binaries_near (binary);
  if (near->len > 0 && package == NULL && edit_distance (binary, near->pdata[0]) <= 3)
    g_printerr ("qmachine: did you mean %s?\n", (char *)near->pdata[0]);
  else if (near->len > 0)
    {
      g_ptr_array_add (near, NULL);
      {
        g_autofree char *list = g_strjoinv (", ", (char **)near->pdata);
        g_printerr ("qmachine: QEMU binaries on PATH: %s\n", list);
      }
    }
  else
    g_printerr ("qmachine: no qemu-system-* binary is on PATH\n");
  return FALSE;
}

static int
cmd_run (int    argc,
         char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *binary = NULL;
  g_autofree char *log_dir = NULL;
  g_autofree char *console_log = NULL;
  gboolean console = FALSE, qmp_shell = FALSE, guest_agent = FALSE;
  char *wait_pattern = NULL;
  double timeout = 30;
  Tool tool = { 0 };
  GOptionEntry entries[] = {
    { "binary", 'b', 0, G_OPTION_ARG_FILENAME, &binary, "QEMU binary (default: qemu-system-x86_64)", "PATH" },
    { "console", 'c', 0, G_OPTION_ARG_NONE, &console, "Give the VM a serial console and pass it through", NULL },
    { "console-log", 0, 0, G_OPTION_ARG_FILENAME, &console_log, "Also log the console to FILE", "FILE" },
    { "qmp-shell", 'q', 0, G_OPTION_ARG_NONE, &qmp_shell, "Read shell commands from stdin (listed above)", NULL },
    { "guest-agent", 'a', 0, G_OPTION_ARG_NONE, &guest_agent, "Give the VM a guest agent channel (virtio-serial) for the agent shell commands", NULL },
    { "wait-for", 'w', 0, G_OPTION_ARG_STRING, &wait_pattern, "Wait (up to --timeout) for TEXT on the console before reading stdin", "TEXT" },
    { "timeout", 't', 0, G_OPTION_ARG_DOUBLE, &timeout, "Seconds for waits and shutdown (default 30)", "SECONDS" },
    { "log-dir", 0, 0, G_OPTION_ARG_FILENAME, &log_dir, "Keep QEMU's log in DIR", "DIR" },
    { NULL }
  };

  g_set_prgname ("qmachine run");
  context = g_option_context_new ("-- QEMU-ARGS… - run a VM");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "Launches QEMU through libqmachine, prints QMP events and command replies\n"
    "as JSON lines on stdout, passes the serial console through (--console),\n"
    "and shuts QEMU down cleanly on Ctrl-C or at the end of input.\n"
    "\n"
    "With --qmp-shell, each stdin line is one of:\n"
    "  cmd NAME [JSON-ARGS]     run a QMP command, print its response\n"
    "  {\"execute\": …}           a raw QMP command\n"
    "  wait-event NAME [SECS]   wait for a QMP event\n"
    "  wait-console TEXT        wait for TEXT on the console\n"
    "  console TEXT             type TEXT and Enter on the console\n"
    "  screendump FILE          save the screen as PNG (needs -vga std or similar)\n"
    "  sendkey COMBO            press keys together, e.g. ctrl-alt-f2\n"
    "  type TEXT                type TEXT (C escapes such as \\n work)\n"
    "  agent NAME [JSON-ARGS]   run a guest agent command (--guest-agent)\n"
    "  agent-exec COMMAND       run COMMAND with sh -c in the guest (--guest-agent)\n"
    "Without --qmp-shell but with --console, stdin lines go to the console.");
  g_option_context_set_description (context,
    "Exit status: 0 after a clean shutdown, 1 when QEMU failed to launch, a\n"
    "command failed or the shutdown was abnormal, 2 on a usage error, else\n"
    "QEMU's own non-zero exit status (128+N when killed by signal N).");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("qmachine run: %s\n", error->message);
      if (g_error_matches (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION))
        g_printerr ("qmachine run: QEMU's own options go after \"--\": "
                    "qmachine run [OPTION…] -- QEMU-ARGS…\n");
      return EXIT_USAGE;
    }

  if (wait_pattern != NULL && !console && !console_log)
    {
      g_printerr ("qmachine run: --wait-for needs --console or --console-log\n");
      return EXIT_USAGE;
    }

  if (!check_binary (binary ? binary : "qemu-system-x86_64"))
    return EXIT_FAILURE_;

  tool.loop = g_main_loop_new (NULL, FALSE);
  tool.partial = g_string_new (NULL);
  term_filter_init (&tool.filter);
  tool.cancellable = g_cancellable_new ();
  tool.want_console = console;
  tool.qmp_shell = qmp_shell;
  tool.wait_pattern = wait_pattern;
  tool.timeout_msec = timeout < 0 ? -1 : (int)(timeout * 1000);
  tool.machine = q_machine_new (binary ? binary : "qemu-system-x86_64");

  /* argv[0] is "run"; a leading "--" was eaten by GOption. */
  for (int i = 1; i < argc; i++)
    {
      if (i == 1 && g_str_equal (argv[i], "--"))
        continue;
      q_machine_add_args (tool.machine, argv[i], NULL);
    }
  if (console || console_log)
    {
      q_machine_set_console (tool.machine, NULL, 0);
      q_machine_set_drain_console (tool.machine, TRUE);
      if (console_log)
        q_machine_set_console_log (tool.machine, console_log);
    }
  if (log_dir)
    q_machine_set_log_dir (tool.machine, log_dir);
  if (guest_agent)
    q_machine_add_guest_agent (tool.machine, Q_GUEST_AGENT_PORT_VIRTIO_SERIAL);

  g_signal_connect (tool.machine, "event", G_CALLBACK (event_cb), &tool);
  g_signal_connect (tool.machine, "exited", G_CALLBACK (exited_cb), &tool);
  g_unix_signal_add (SIGINT, on_signal, &tool);
  g_unix_signal_add (SIGTERM, on_signal, &tool);

  q_machine_launch_async (tool.machine, NULL, launch_cb, &tool);
  /* The console exists once launch has started, before QEMU can print:
   * listen from its first byte. */
  if (q_machine_get_console (tool.machine) != NULL)
    g_signal_connect (q_machine_get_console (tool.machine), "output", G_CALLBACK (output_cb), &tool);
  g_main_loop_run (tool.loop);
  term_filter_flush (&tool.filter, tool.partial);
  flush_partial (&tool);

  if (tool.had_error && tool.status == EXIT_OK)
    tool.status = EXIT_FAILURE_;

  g_clear_object (&tool.stdin_lines);
  g_clear_object (&tool.machine);
  g_clear_object (&tool.cancellable);
  g_main_loop_unref (tool.loop);
  g_string_free (tool.partial, TRUE);
  term_filter_clear (&tool.filter);
  g_free (wait_pattern);

  return tool.status;
}

/* Where in TEXT json-glib's parse ERROR ("<data>:LINE:COLUMN: Parse
 * error: …", the column being the byte that ends the offending token)
 * points: the line's text, the token's first and last bytes in it, and
 * the reason. FALSE when the message does not say. */
static gboolean
json_error_position (const char    *text,
                     const GError  *error,
                     guint64       *line_number,
                     char         **line_text,
                     gsize         *first,
                     gsize         *last,
                     char         **reason)
{
  g_autoptr(GRegex) regex = g_regex_new ("^[^:]*:([0-9]+):([0-9]+): [^:]+: (.*)$", 0, 0, NULL);
  g_autoptr(GMatchInfo) match = NULL;
  g_autofree char *line_s = NULL;
  g_autofree char *column_s = NULL;
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  guint64 line, column;
  const char *l;
  gsize end;

  if (!g_regex_match (regex, error->message, 0, &match))
    return FALSE;
  line_s = g_match_info_fetch (match, 1);
  column_s = g_match_info_fetch (match, 2);
  line = g_ascii_strtoull (line_s, NULL, 10);
  column = g_ascii_strtoull (column_s, NULL, 10);
  if (line < 1 || line > g_strv_length (lines))
    return FALSE;
  l = lines[line - 1];
  end = MIN (column > 0 ? column - 1 : 0, strlen (l) > 0 ? strlen (l) - 1 : 0);
  *first = end;
  if (l[end] == '"')
    {
      while (*first > 0 && l[*first - 1] != '"')
        (*first)--;
      if (*first > 0)
        (*first)--;
    }
  else
    while (*first > 0 && (g_ascii_isalnum (l[end]) || l[end] == '_') &&
           (g_ascii_isalnum (l[*first - 1]) || l[*first - 1] == '_'))
      (*first)--;
  *last = end;
  *line_number = line;
  *line_text = g_strdup (l);
  *reason = g_match_info_fetch (match, 3);
  return TRUE;
}

/* A type's name for "the arguments must be a JSON object, not …". */
static const char *
json_node_kind (JsonNode *node)
{
  if (JSON_NODE_HOLDS_ARRAY (node))
    return "an array";
  if (JSON_NODE_HOLDS_NULL (node))
    return "null";
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_STRING:
      return "a string";
    case G_TYPE_BOOLEAN:
      return "a boolean";
    default:
      return "a number";
    }
}

/* The JSON object of a command line's JSON-ARGUMENTS, or NULL after
 * saying what is wrong with TEXT (where, under the text) and how to quote
 * it: COMMAND is the command line up to the arguments. */
static JsonObject *
json_object_from_arg (const char *text,
                      const char *command)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  if (!json_parser_load_from_data (parser, text, -1, &error))
    {
      g_autofree char *line = NULL;
      g_autofree char *reason = NULL;
      guint64 line_number;
      gsize first, last;

      if (json_error_position (text, error, &line_number, &line, &first, &last, &reason))
        {
          glong indent = g_utf8_pointer_to_offset (line, line + first);
          glong width = g_utf8_pointer_to_offset (line + first, line + last) + 1;
          g_autofree char *tilde = g_strnfill (MAX (width - 1, 0), '~');
          g_autofree char *spaces = g_strnfill (indent, ' ');
          g_autofree char *where = strchr (text, '\n') == NULL
            ? g_strdup_printf ("column %ld", indent + 1)
            : g_strdup_printf ("line %" G_GUINT64_FORMAT ", column %ld", line_number, indent + 1);

          g_printerr ("qmachine: the arguments are not valid JSON: %s: %s\n"
                      "    %s\n"
                      "    %s^%s\n",
                      where, reason, line, spaces, tilde);
        }
      else
        g_printerr ("qmachine: the arguments are not valid JSON: %s\n", error->message);
      g_printerr ("qmachine: %s put the arguments in single quotes: %s '{\"key\": \"value\"}'\n",
                  strchr (text, '"') == NULL ? "the shell took the double quotes away:"
                                             : "in a shell,",
                  command);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_printerr ("qmachine: the arguments must be a JSON object, not %s: %s '{\"key\": \"value\"}'\n",
                  root ? json_node_kind (root) : "an empty argument", command);
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

/* JSON arguments the shell split into WORDS (N_WORDS of them): they must
 * be one argument. */
static void
json_split_by_shell (char      **words,
                     int         n_words,
                     const char *command)
{
  g_autofree char *joined = g_strjoinv (" ", words);

  g_printerr ("qmachine: the JSON arguments must be one argument, but the shell split "
              "them into %d: %s\n"
              "qmachine: in a shell, put the arguments in single quotes: %s '{\"key\": \"value\"}'\n",
              n_words, joined, command);
}

/* The monitor address ARG: HOST:PORT or tcp:HOST:PORT for a TCP monitor,
 * else (or with unix:) the path of a unix socket. */
static GSocketConnectable *
monitor_address (const char *arg)
{
  g_autoptr(GError) error = NULL;
  GSocketConnectable *address;
  const char *tcp = NULL;

  if (g_str_has_prefix (arg, "tcp:"))
    tcp = arg + strlen ("tcp:");
  else if (g_str_has_prefix (arg, "unix:"))
    arg += strlen ("unix:");
  else if (strchr (arg, '/') == NULL && !g_file_test (arg, G_FILE_TEST_EXISTS) &&
           g_regex_match_simple ("^(\\[[0-9a-fA-F:.]+\\]|[^:]+):[0-9]+$", arg, 0, 0))
    tcp = arg;

  if (tcp != NULL)
    {
      if (!g_regex_match_simple (":[0-9]+$", tcp, 0, 0))
        {
          g_printerr ("qmachine: %s has no port: write HOST:PORT, e.g. localhost:4444\n", arg);
          return NULL;
        }
      if (!(address = g_network_address_parse (tcp, 0, &error)))
        g_printerr ("qmachine: %s is not a TCP address: %s\n", arg, error->message);
      return address;
    }

  /* GUnixSocketAddress would cut a longer path short: another socket. */
  if (strlen (arg) > 106)
    {
      g_printerr ("qmachine: the socket path %s is too long: unix socket paths can have "
                  "at most 106 bytes here\n", arg);
      return NULL;
    }
  return G_SOCKET_CONNECTABLE (g_unix_socket_address_new (arg));
}

/* `qmachine qmp SOCKET [COMMAND [JSON-ARGS]]`: one command on a monitor
 * that is already running (a unix socket or a TCP port QEMU listens on, as
 * with `-qmp unix:PATH,server=on,wait=off` or `-qmp tcp:HOST:PORT,…`), its
 * reply printed as a JSON line. Without a command, the greeting is
 * printed. */
static int
cmd_qmp (int    argc,
         char **argv)
{
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketConnectable) address = NULL;
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(QQmpClient) qmp = NULL;
  g_autoptr(JsonObject) args = NULL;
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(GError) error = NULL;

  if (argc > 4)
    {
      g_autofree char *command = g_strdup_printf ("qmachine qmp %s %s", argv[1], argv[2]);

      json_split_by_shell (argv + 3, argc - 3, command);
      return EXIT_USAGE;
    }
  if (argc < 2)
    {
      g_printerr ("Usage: qmachine qmp SOCKET|HOST:PORT [COMMAND [JSON-ARGUMENTS]]\n");
      return EXIT_USAGE;
    }
  if (argc == 4)
    {
      g_autofree char *command = g_strdup_printf ("qmachine qmp %s %s", argv[1], argv[2]);

      if (!(args = json_object_from_arg (argv[3], command)))
        return EXIT_USAGE;
    }

  if (!(address = monitor_address (argv[1])))
    return EXIT_USAGE;
  client = g_socket_client_new ();
  g_socket_client_set_timeout (client, 10);
  if (!(conn = g_socket_client_connect (client, address, NULL, &error)))
    {
      g_printerr ("qmachine: cannot connect to %s: %s\n", argv[1], error->message);
      return EXIT_FAILURE_;
    }
  qmp = q_qmp_client_new (G_IO_STREAM (conn));
  if (!q_qmp_client_negotiate (qmp, Q_QMP_NEGOTIATE_FLAGS_NONE, NULL, &error))
    {
      g_printerr ("qmachine: %s\n", error->message);
      return EXIT_FAILURE_;
    }
  if (argc == 2)
    {
      print_json_object (q_qmp_client_get_greeting (qmp));
      return EXIT_OK;
    }
  if (!(reply = q_qmp_client_execute_raw (qmp, argv[2], args, Q_QMP_EXECUTE_FLAGS_NONE, NULL,
                                          NULL, &error)))
    {
      g_printerr ("qmachine: %s\n", error->message);
      return EXIT_FAILURE_;
    }
  json_object_remove_member (reply, "id");
  print_json_object (reply);
  q_qmp_client_close (qmp, NULL, NULL);
  return json_object_has_member (reply, "error") ? EXIT_FAILURE_ : EXIT_OK;
}

/* `qmachine agent [-t SECONDS] SOCKET VERB …`: the guest agent behind a
 * socket QEMU serves (`-chardev socket,path=PATH,server=on,wait=off,id=ga
 * -device virtserialport,chardev=ga,name=org.qemu.guest_agent.0`). */
static int
agent_usage (void)
{
  g_printerr ("Usage: qmachine agent [-t SECONDS] SOCKET VERB …\n"
              "\n"
              "Verbs:\n"
              "  ping                       is the agent there\n"
              "  info                       the agent's version and commands (JSON)\n"
              "  exec [-i] [--] PROG ARG…   run PROG in the guest; its output here, its\n"
              "                             exit status ours (-i: our stdin is its input)\n"
              "  cat GUEST-PATH             a guest file to stdout\n"
              "  cp SRC DST                 copy a file; the guest side is written\n"
              "                             guest:PATH\n"
              "  cmd NAME [JSON-ARGS]       any agent command; its reply (JSON)\n");
  return EXIT_USAGE;
}

static gboolean
write_all_fd (int           fd,
              GBytes       *bytes)
{
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  while (len > 0)
    {
      gssize n = write (fd, data, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      len -= n;
    }
  return TRUE;
}

static int
cmd_agent (int    argc,
           char **argv)
{
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(QGuestAgent) agent = NULL;
  g_autoptr(JsonObject) args = NULL;
  g_autoptr(GError) error = NULL;
  const char *socket_path;
  const char *verb;
  int timeout_msec = 30000;
  int i = 1;

  if (i + 1 < argc && g_str_equal (argv[i], "-t"))
    {
      char *end = NULL;
      double seconds = g_ascii_strtod (argv[i + 1], &end);

      if (end == argv[i + 1] || *end != '\0')
        return agent_usage ();
      timeout_msec = seconds < 0 ? -1 : (int)MIN (seconds * 1000, G_MAXINT);
      i += 2;
    }
  if (argc - i < 2)
    return agent_usage ();
  socket_path = argv[i++];
  verb = argv[i++];

  /* The arguments of cmd are checked before reaching for the agent. */
  if (g_str_equal (verb, "cmd") && argc - i >= 2)
    {
      g_autofree char *command = g_strdup_printf ("qmachine agent %s cmd %s",
                                                  socket_path, argv[i]);

      if (argc - i > 2)
        {
          json_split_by_shell (argv + i + 1, argc - i - 1, command);
          return EXIT_USAGE;
        }
      if (!(args = json_object_from_arg (argv[i + 1], command)))
        return EXIT_USAGE;
    }

  address = g_unix_socket_address_new (socket_path);
  agent = q_guest_agent_new_for_address (address, NULL, &error);
  if (agent == NULL)
    {
      g_printerr ("qmachine: %s\n", error->message);
      return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG) ? EXIT_USAGE
                                                                               : EXIT_FAILURE_;
    }
  q_guest_agent_set_timeout (agent, timeout_msec);

  if (g_str_equal (verb, "ping") && i == argc)
    {
      if (!q_guest_agent_ping (agent, NULL, &error))
        goto failed;
      g_print ("the guest agent answered\n");
      return EXIT_OK;
    }

  if (g_str_equal (verb, "info") && i == argc)
    {
      g_autoptr(JsonObject) info = q_guest_agent_info (agent, NULL, &error);
      if (info == NULL)
        goto failed;
      print_json_object (info);
      return EXIT_OK;
    }

  if (g_str_equal (verb, "cmd") && (argc - i == 1 || argc - i == 2))
    {
      g_autoptr(JsonNode) ret = NULL;
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autofree char *text = NULL;

      if (!(ret = q_guest_agent_execute (agent, argv[i], args, NULL, &error)))
        goto failed;
      json_generator_set_root (gen, ret);
      text = json_generator_to_data (gen, NULL);
      g_print ("%s\n", text);
      return EXIT_OK;
    }

  if (g_str_equal (verb, "exec"))
    {
      g_autoptr(GBytes) input = NULL;
      g_autoptr(GBytes) out = NULL;
      g_autoptr(GBytes) err = NULL;
      int status = 0;

      if (i < argc && g_str_equal (argv[i], "-i"))
        {
          g_autoptr(GInputStream) in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
          g_autoptr(GOutputStream) mem = g_memory_output_stream_new_resizable ();

          if (g_output_stream_splice (mem, in, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, &error) < 0)
            goto failed;
          input = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (mem));
          i++;
        }
      if (i < argc && g_str_equal (argv[i], "--"))
        i++;
      if (i == argc)
        return agent_usage ();
      if (!q_guest_agent_exec (agent, (const char * const *)argv + i, NULL, input, timeout_msec,
                               &status, &out, &err, NULL, &error))
        goto failed;
      write_all_fd (STDOUT_FILENO, out);
      write_all_fd (STDERR_FILENO, err);
      return status;
    }

  if (g_str_equal (verb, "cat") && argc - i == 1)
    {
      g_autoptr(GBytes) data = q_guest_agent_file_read (agent, argv[i], NULL, &error);

      if (data == NULL)
        goto failed;
      if (!write_all_fd (STDOUT_FILENO, data))
        {
          g_printerr ("qmachine: cannot write to stdout: %s\n", g_strerror (errno));
          return EXIT_FAILURE_;
        }
      return EXIT_OK;
    }

  if (g_str_equal (verb, "cp") && argc - i == 2)
    {
      gboolean from_guest = g_str_has_prefix (argv[i], "guest:");
      gboolean to_guest = g_str_has_prefix (argv[i + 1], "guest:");

      if (from_guest == to_guest)
        {
          g_printerr ("qmachine: exactly one side of cp is in the guest (guest:PATH)\n");
          return EXIT_USAGE;
        }
      if (to_guest)
        {
          g_autoptr(GFile) source = g_file_new_for_commandline_arg (argv[i]);
          if (!q_guest_agent_copy_to_guest (agent, source, argv[i + 1] + 6, NULL, &error))
            goto failed;
        }
      else
        {
          g_autoptr(GFile) dest = g_file_new_for_commandline_arg (argv[i + 1]);
          if (!q_guest_agent_copy_from_guest (agent, argv[i] + 6, dest, NULL, &error))
            goto failed;
        }
      return EXIT_OK;
    }

  return agent_usage ();

failed:
  g_printerr ("qmachine: %s\n", error->message);
  return EXIT_FAILURE_;
}

static void
usage (void)
{
  g_printerr ("Usage: qmachine COMMAND [OPTION…]\n"
              "\n"
              "Commands:\n"
              "  run [OPTION…] -- QEMU-ARGS…   launch a VM (qmachine run --help)\n"
              "  qmp SOCKET [CMD [JSON-ARGS]]  one QMP command on a running monitor\n"
              "                                (SOCKET: a unix socket, or HOST:PORT)\n"
              "  agent SOCKET VERB …           the guest agent: ping, info, exec, cat,\n"
              "                                cp, cmd (qmachine agent --help)\n"
              "  version                       print the qmachine version\n");
}

int
main (int    argc,
      char **argv)
{
  setlocale (LC_ALL, "");

  if (argc < 2 || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") ||
      g_str_equal (argv[1], "help"))
    {
      usage ();
      return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }

  if (g_str_equal (argv[1], "version") || g_str_equal (argv[1], "--version"))
    {
      g_print ("qmachine %s\n", QMACHINE_VERSION_S);
      return EXIT_OK;
    }

  if (g_str_equal (argv[1], "run"))
    return cmd_run (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "qmp"))
    return cmd_qmp (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "agent"))
    {
      if (argc > 2 && (g_str_equal (argv[2], "--help") || g_str_equal (argv[2], "-h")))
        {
          agent_usage ();
          return EXIT_OK;
        }
      return cmd_agent (argc - 1, argv + 1);
    }

  g_printerr ("qmachine: unknown command \"%s\"\n", argv[1]);
  usage ();
  return EXIT_USAGE;
}
