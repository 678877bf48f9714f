/* viewer.c: a GTK 4 machine viewer on qmachine
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A window per machine: the serial console in a VteTerminal, the screen
 * (refreshed from screendump once a second while the window is shown), a
 * QMP event log, and buttons bound to the machine's state. Everything is
 * asynchronous: the main loop never waits for QEMU. Closing a window shuts
 * its machine down.
 *
 *   viewer KERNEL INITRD                   a window for the test guest
 *   viewer --self-test=PNG KERNEL INITRD   drive one window, save a
 *                                          screenshot, check cleanup
 *   viewer --responsiveness=N KERNEL INITRD
 *                                          launch N machines, print the
 *                                          longest gap between frames
 */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include <gtk/gtk.h>
#include <vte/vte.h>
#include <qmachine.h>

#define MARKER "QMACHINE-GUEST-READY"

static char *kernel_path;
static char *initrd_path;
static char *self_test_png;
static int   responsiveness;
static guint viewer_count;

/* ------------------------------------------------------------------------ */
/* One window per machine                                                   */

typedef struct
{
  GtkWindow     *window;
  QMachine      *machine;
  VteTerminal   *terminal;
  GtkPicture    *screen;
  GtkTextBuffer *log;
  GtkLabel      *status;
  GtkWidget     *pause, *resume, *reset, *powerdown, *kill;
  GCancellable  *cancellable;
  guint          screen_timer;
  gboolean       screen_busy;
  guint          screen_updates;
  gboolean       closing;
} Viewer;

static void
viewer_free (Viewer *v)
{
  g_cancellable_cancel (v->cancellable);
  g_clear_handle_id (&v->screen_timer, g_source_remove);
  g_signal_handlers_disconnect_by_data (v->machine, v);
  if (q_machine_get_console (v->machine) != NULL)
    g_signal_handlers_disconnect_by_data (q_machine_get_console (v->machine), v);
  g_clear_object (&v->machine);
  g_clear_object (&v->cancellable);
  g_free (v);
}

static void
update_controls (Viewer *v)
{
  QMachineState state = q_machine_get_state (v->machine);
  gboolean running = state == Q_MACHINE_STATE_RUNNING && !v->closing;
  gboolean paused = q_machine_is_paused (v->machine);
  const char *text;

  gtk_widget_set_sensitive (v->pause, running && !paused);
  gtk_widget_set_sensitive (v->resume, running && paused);
  gtk_widget_set_sensitive (v->reset, running);
  gtk_widget_set_sensitive (v->powerdown, running);
  gtk_widget_set_sensitive (v->kill, state == Q_MACHINE_STATE_RUNNING || state == Q_MACHINE_STATE_LAUNCHING);

  switch (state)
    {
    case Q_MACHINE_STATE_LAUNCHING:
      text = "launching";
      break;
    case Q_MACHINE_STATE_RUNNING:
      text = paused ? "paused" : "running";
      break;
    case Q_MACHINE_STATE_SHUTTING_DOWN:
      text = "shutting down";
      break;
    case Q_MACHINE_STATE_NOT_LAUNCHED:
    default:
      text = "stopped";
      break;
    }
  gtk_label_set_text (v->status, text);
}

static void
state_changed_cb (QMachine *machine, GParamSpec *pspec, Viewer *v)
{
  update_controls (v);
}

static void
log_line (Viewer *v, const char *line)
{
  GtkTextIter end;

  gtk_text_buffer_get_end_iter (v->log, &end);
  gtk_text_buffer_insert (v->log, &end, line, -1);
  gtk_text_buffer_insert (v->log, &end, "\n", 1);
}

static void
event_cb (QMachine *machine, const char *name, JsonObject *event, Viewer *v)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *text = NULL;

  json_node_set_object (node, event);
  text = json_to_string (node, FALSE);
  log_line (v, text);
}

static void
console_output_cb (QConsole *console, GBytes *chunk, Viewer *v)
{
  gsize len;
  const char *data = g_bytes_get_data (chunk, &len);

  vte_terminal_feed (v->terminal, data, len);
}

/* Keystrokes in the terminal go to the guest's console. */
static void
terminal_commit_cb (VteTerminal *terminal, const char *text, guint size, Viewer *v)
{
  QConsole *console = q_machine_get_console (v->machine);
  g_autoptr(GBytes) bytes = g_bytes_new (text, size);

  if (console != NULL && q_machine_get_state (v->machine) == Q_MACHINE_STATE_RUNNING)
    q_console_write_async (console, bytes, v->cancellable, NULL, NULL);
}

/* Command results: the log says what failed; nothing waits. */
static void
command_done_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = q_machine_cmd_finish (Q_MACHINE (object), result, &error);

  if (ret == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_printerr ("viewer: %s\n", error->message);
}

static void
run_command (Viewer *v, const char *command)
{
  q_machine_cmd_async (v->machine, command, NULL, v->cancellable, command_done_cb, NULL);
}

static void pause_clicked (GtkButton *b, Viewer *v) { run_command (v, "stop"); }
static void resume_clicked (GtkButton *b, Viewer *v) { run_command (v, "cont"); }
static void reset_clicked (GtkButton *b, Viewer *v) { run_command (v, "system_reset"); }
static void powerdown_clicked (GtkButton *b, Viewer *v) { run_command (v, "system_powerdown"); }

static void
kill_clicked (GtkButton *b, Viewer *v)
{
  q_machine_kill_async (v->machine, NULL, NULL, NULL);
}

static void
screen_done_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) png = q_machine_screendump_finish (Q_MACHINE (object), result, &error);
  g_autoptr(GdkTexture) texture = NULL;
  Viewer *v;

  /* Cancelled: the window (and the viewer) may be gone. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  v = user_data;
  v->screen_busy = FALSE;
  if (png == NULL)
    return;   /* no screen yet, or QEMU is going: the next tick asks again */
  texture = gdk_texture_new_from_bytes (png, NULL);
  if (texture != NULL)
    {
      gtk_picture_set_paintable (v->screen, GDK_PAINTABLE (texture));
      v->screen_updates++;
    }
}

/* Once a second while shown, never two at a time. */
static gboolean
screen_tick (gpointer data)
{
  Viewer *v = data;

  if (!v->screen_busy && gtk_widget_get_mapped (GTK_WIDGET (v->screen)) &&
      q_machine_get_state (v->machine) == Q_MACHINE_STATE_RUNNING)
    {
      v->screen_busy = TRUE;
      /* The viewer outlives the call: the cancellable ends it first. */
      q_machine_screendump_async (v->machine, NULL, -1, v->cancellable, screen_done_cb, v);
    }
  return G_SOURCE_CONTINUE;
}

static void
shutdown_done_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  GtkWindow *window = user_data;
  g_autoptr(GError) error = NULL;

  if (!q_machine_shutdown_finish (Q_MACHINE (object), result, &error))
    g_printerr ("viewer: %s\n", error->message);
  gtk_window_destroy (window);
  g_object_unref (window);
}

/* Closing the window shuts the machine down first (asynchronously). */
static gboolean
close_request_cb (GtkWindow *window, Viewer *v)
{
  if (v->closing)
    return TRUE;
  if (q_machine_get_state (v->machine) == Q_MACHINE_STATE_NOT_LAUNCHED)
    return FALSE;
  v->closing = TRUE;
  update_controls (v);
  g_cancellable_cancel (v->cancellable);
  q_machine_shutdown_async (v->machine, Q_MACHINE_SHUTDOWN_FLAGS_NONE, 10000, NULL,
                            shutdown_done_cb, g_object_ref (window));
  return TRUE;
}

static void
launch_done_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  if (!q_machine_launch_finish (Q_MACHINE (object), result, &error))
    g_printerr ("viewer: %s\n", error->message);
}

static QMachine *
new_guest_machine (const char *name, int memory_mib)
{
  g_autofree char *mem = g_strdup_printf ("%d", memory_mib);
  const char *accel = g_getenv ("QMACHINE_TEST_ACCEL");
  QMachine *machine = q_machine_new (g_getenv ("QMACHINE_TEST_QEMU") ? g_getenv ("QMACHINE_TEST_QEMU")
                                                                      : "qemu-system-x86_64");

  if (name != NULL && *name != '\0')
    q_machine_set_name (machine, name);
  q_machine_set_machine (machine, "pc");
  q_machine_add_args (machine, "-accel", accel ? accel : "tcg", "-m", mem, "-nodefaults",
                      "-no-reboot", "-vga", "std", "-kernel", kernel_path, "-initrd", initrd_path,
                      "-append", "console=ttyS0 panic=-1", NULL);
  q_machine_set_console (machine, NULL, 0);
  q_machine_set_drain_console (machine, TRUE);
  return machine;
}

static GtkWidget *
button (Viewer *v, const char *label, GCallback clicked)
{
  GtkWidget *b = gtk_button_new_with_label (label);
  g_signal_connect (b, "clicked", clicked, v);
  return b;
}

static void new_machine_clicked (GtkButton *b, GtkApplication *app);

static Viewer *
viewer_new (GtkApplication *app, QMachine *machine)
{
  Viewer *v = g_new0 (Viewer, 1);
  GtkWidget *header, *paned, *right, *scroll, *log_view, *box;
  g_autofree char *title = NULL;

  v->machine = machine;
  v->cancellable = g_cancellable_new ();
  v->window = GTK_WINDOW (gtk_application_window_new (app));
  title = g_strdup_printf ("qmachine: %s", q_machine_get_name (machine));
  gtk_window_set_title (v->window, title);
  gtk_window_set_default_size (v->window, 1200, 560);
  g_object_set_data_full (G_OBJECT (v->window), "viewer", v, (GDestroyNotify)viewer_free);

  header = gtk_header_bar_new ();
  v->pause = button (v, "Pause", G_CALLBACK (pause_clicked));
  v->resume = button (v, "Resume", G_CALLBACK (resume_clicked));
  v->reset = button (v, "Reset", G_CALLBACK (reset_clicked));
  v->powerdown = button (v, "Power down", G_CALLBACK (powerdown_clicked));
  v->kill = button (v, "Kill", G_CALLBACK (kill_clicked));
  gtk_header_bar_pack_start (GTK_HEADER_BAR (header), v->pause);
  gtk_header_bar_pack_start (GTK_HEADER_BAR (header), v->resume);
  gtk_header_bar_pack_start (GTK_HEADER_BAR (header), v->reset);
  gtk_header_bar_pack_start (GTK_HEADER_BAR (header), v->powerdown);
  gtk_header_bar_pack_start (GTK_HEADER_BAR (header), v->kill);
  {
    GtkWidget *new_button = gtk_button_new_with_label ("New machine…");
    g_signal_connect (new_button, "clicked", G_CALLBACK (new_machine_clicked), app);
    gtk_header_bar_pack_end (GTK_HEADER_BAR (header), new_button);
  }
  v->status = GTK_LABEL (gtk_label_new ("stopped"));
  gtk_header_bar_pack_end (GTK_HEADER_BAR (header), GTK_WIDGET (v->status));
  gtk_window_set_titlebar (v->window, header);

  v->terminal = VTE_TERMINAL (vte_terminal_new ());
  vte_terminal_set_size (v->terminal, 80, 30);
  g_signal_connect (v->terminal, "commit", G_CALLBACK (terminal_commit_cb), v);

  v->screen = GTK_PICTURE (gtk_picture_new ());
  gtk_picture_set_can_shrink (v->screen, TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (v->screen), TRUE);

  log_view = gtk_text_view_new ();
  gtk_text_view_set_editable (GTK_TEXT_VIEW (log_view), FALSE);
  gtk_text_view_set_monospace (GTK_TEXT_VIEW (log_view), TRUE);
  gtk_text_view_set_wrap_mode (GTK_TEXT_VIEW (log_view), GTK_WRAP_WORD_CHAR);
  v->log = gtk_text_view_get_buffer (GTK_TEXT_VIEW (log_view));
  scroll = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroll), log_view);
  gtk_widget_set_size_request (scroll, -1, 120);

  right = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  gtk_box_append (GTK_BOX (right), GTK_WIDGET (v->screen));
  gtk_box_append (GTK_BOX (right), gtk_label_new ("QMP events"));
  gtk_box_append (GTK_BOX (right), scroll);

  paned = gtk_paned_new (GTK_ORIENTATION_HORIZONTAL);
  gtk_paned_set_start_child (GTK_PANED (paned), GTK_WIDGET (v->terminal));
  gtk_paned_set_end_child (GTK_PANED (paned), right);
  gtk_paned_set_position (GTK_PANED (paned), 660);
  box = paned;
  gtk_window_set_child (v->window, box);

  g_signal_connect (machine, "notify::state", G_CALLBACK (state_changed_cb), v);
  g_signal_connect (machine, "notify::paused", G_CALLBACK (state_changed_cb), v);
  g_signal_connect (machine, "event", G_CALLBACK (event_cb), v);
  g_signal_connect (v->window, "close-request", G_CALLBACK (close_request_cb), v);
  v->screen_timer = g_timeout_add_seconds (1, screen_tick, v);

  q_machine_launch_async (machine, v->cancellable, launch_done_cb, NULL);
  /* The console exists from the start of the launch: listen from its
   * first byte. */
  g_signal_connect (q_machine_get_console (machine), "output", G_CALLBACK (console_output_cb), v);
  update_controls (v);
  viewer_count++;
  gtk_window_present (v->window);
  return v;
}

/* ------------------------------------------------------------------------ */
/* The "new machine" dialog                                                 */

static void
create_clicked (GtkButton *b, GtkWindow *dialog)
{
  GtkApplication *app = gtk_window_get_application (dialog);
  GtkEditable *name = g_object_get_data (G_OBJECT (dialog), "name");
  GtkSpinButton *memory = g_object_get_data (G_OBJECT (dialog), "memory");

  viewer_new (app, new_guest_machine (gtk_editable_get_text (name),
                                      gtk_spin_button_get_value_as_int (memory)));
  gtk_window_destroy (dialog);
}

static void
new_machine_clicked (GtkButton *b, GtkApplication *app)
{
  GtkWidget *dialog = gtk_window_new ();
  GtkWidget *grid = gtk_grid_new ();
  GtkWidget *name = gtk_entry_new ();
  GtkWidget *memory = gtk_spin_button_new_with_range (64, 4096, 64);
  GtkWidget *create = gtk_button_new_with_label ("Create");

  gtk_window_set_application (GTK_WINDOW (dialog), app);
  gtk_window_set_title (GTK_WINDOW (dialog), "New machine (test guest)");
  gtk_window_set_modal (GTK_WINDOW (dialog), TRUE);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (memory), 256);
  gtk_grid_set_row_spacing (GTK_GRID (grid), 6);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 6);
  gtk_grid_attach (GTK_GRID (grid), gtk_label_new ("Name"), 0, 0, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), name, 1, 0, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), gtk_label_new ("Memory (MiB)"), 0, 1, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), memory, 1, 1, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), create, 1, 2, 1, 1);
  g_object_set_data (G_OBJECT (dialog), "name", name);
  g_object_set_data (G_OBJECT (dialog), "memory", memory);
  g_signal_connect (create, "clicked", G_CALLBACK (create_clicked), dialog);
  gtk_window_set_child (GTK_WINDOW (dialog), grid);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ------------------------------------------------------------------------ */
/* --self-test: what CI checks under Xvfb                                   */

typedef struct
{
  Viewer    *viewer;
  int        pid;
  char      *temp_dir;
  int        step;
  guint      screens_before;
  gboolean   ok;
} SelfTest;

static SelfTest self_test;

static void
self_test_fail (const char *why)
{
  g_printerr ("viewer self-test: FAILED: %s\n", why);
  exit (1);
}

static const char *screenshot_problem = "not tried";

static gboolean
save_screenshot (GtkWidget *widget, const char *path)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));

  if (width <= 0 || height <= 0 || renderer == NULL)
    {
      screenshot_problem = "the window has no size or no renderer yet";
      return FALSE;
    }
  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  if (node == NULL)
    {
      screenshot_problem = "the window drew nothing";
      return FALSE;
    }
  texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (texture == NULL || !gdk_texture_save_to_png (texture, path))
    {
      screenshot_problem = "the PNG could not be written";
      return FALSE;
    }
  return TRUE;
}

static void self_test_step (void);

static gboolean
terminal_shows (const char *text)
{
  g_autofree char *shown = vte_terminal_get_text (self_test.viewer->terminal, NULL, NULL, NULL);

  return shown != NULL && strstr (shown, text) != NULL;
}

static void
self_test_contents_cb (VteTerminal *terminal, gpointer data)
{
  if ((self_test.step == 1 && terminal_shows (MARKER)) ||
      (self_test.step == 2 && terminal_shows ("TYPED-42")))
    self_test_step ();
}

static void
self_test_paused_cb (QMachine *machine, GParamSpec *pspec, gpointer data)
{
  if (self_test.step == 3 && q_machine_is_paused (machine))
    self_test_step ();
}

/* After the new image was laid out and drawn: a frame later. A widget
 * that still waits for its allocation snapshots to nothing, so this tries
 * again on the next frames. */
static gboolean
self_test_frame_cb (GtkWidget *widget, GdkFrameClock *clock, gpointer data)
{
  static guint tries;

  if (save_screenshot (widget, self_test_png))
    {
      self_test_step ();
      return G_SOURCE_REMOVE;
    }
  if (++tries >= 30)
    {
      g_printerr ("viewer self-test: %s\n", screenshot_problem);
      self_test_fail ("could not save the window's screenshot");
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
self_test_screen_cb (gpointer data)
{
  /* A screen image taken after the pause has arrived. */
  if (self_test.viewer->screen_updates <= self_test.screens_before)
    return G_SOURCE_CONTINUE;
  gtk_widget_add_tick_callback (GTK_WIDGET (self_test.viewer->window), self_test_frame_cb, NULL, NULL);
  gtk_widget_queue_draw (GTK_WIDGET (self_test.viewer->window));
  return G_SOURCE_REMOVE;
}

static void
self_test_destroyed_cb (GtkWidget *window, gpointer data)
{
  self_test_step ();
}

static void
self_test_step (void)
{
  Viewer *v = self_test.viewer;

  switch (++self_test.step)
    {
    case 1:
      g_printerr ("viewer self-test: waiting for %s in the terminal\n", MARKER);
      g_signal_connect (v->terminal, "contents-changed", G_CALLBACK (self_test_contents_cb), NULL);
      break;

    case 2:
      /* Keystrokes into the terminal widget reach the guest's shell. */
      g_printerr ("viewer self-test: marker seen; typing a command into the terminal\n");
      vte_terminal_feed_child (v->terminal,
                               "uname -sr >/dev/tty1; echo 'typed in the viewer' >/dev/tty1; "
                               "echo TYPED-$((40 + 2))\r", -1);
      break;

    case 3:
      g_printerr ("viewer self-test: the guest ran it; pressing Pause\n");
      g_signal_connect (v->machine, "notify::paused", G_CALLBACK (self_test_paused_cb), NULL);
      if (!gtk_widget_get_sensitive (v->pause))
        self_test_fail ("Pause is not available on a running machine");
      g_signal_emit_by_name (v->pause, "clicked");
      break;

    case 4:
      if (g_strcmp0 (gtk_label_get_text (v->status), "paused") != 0 ||
          gtk_widget_get_sensitive (v->pause) || !gtk_widget_get_sensitive (v->resume))
        self_test_fail ("the window does not show the paused state");
      g_printerr ("viewer self-test: paused; waiting for a fresh screen image\n");
      self_test.screens_before = v->screen_updates;
      g_timeout_add (100, self_test_screen_cb, NULL);
      break;

    case 5:
      g_printerr ("viewer self-test: screenshot saved to %s; closing the window\n", self_test_png);
      self_test.pid = q_machine_get_pid (v->machine);
      self_test.temp_dir = g_strdup (q_machine_get_temp_dir (v->machine));
      g_signal_connect (v->window, "destroy", G_CALLBACK (self_test_destroyed_cb), NULL);
      gtk_window_close (v->window);
      break;

    case 6:
      if (self_test.pid <= 0 || kill (self_test.pid, 0) == 0 || errno != ESRCH)
        self_test_fail ("QEMU is still there after the window closed");
      if (self_test.temp_dir == NULL || g_file_test (self_test.temp_dir, G_FILE_TEST_EXISTS))
        self_test_fail ("the machine's files are still there after the window closed");
      g_printerr ("viewer self-test: QEMU (pid %d) and %s are gone\n", self_test.pid, self_test.temp_dir);
      g_print ("viewer self-test: ok\n");
      self_test.ok = TRUE;
      break;

    default:
      break;
    }
}

static gboolean
self_test_guard (gpointer data)
{
  self_test_fail ("took longer than 180 s");
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------------ */
/* --responsiveness: the frame clock while machines launch                  */

typedef struct
{
  gint64 last_frame;
  gint64 last_frame_cpu;
  gint64 longest_gap;
  gint64 longest_gap_cpu;   /* what this thread ran during that gap */
  guint  launching;
  guint  to_start;
  gint64 started;
  gint64 launch_call_max;
  GPtrArray *machines;
  GApplication *app;
} Responsiveness;

static Responsiveness resp;

static void resp_launched_cb (GObject *object, GAsyncResult *result, gpointer data);

/* One launch per main-loop iteration, as clicks would come. */
static gboolean
start_one (gpointer data)
{
  QMachine *machine = new_guest_machine (NULL, 128);
  gint64 before = g_get_monotonic_time ();

  /* Stopped CPUs: what is measured is the launch (QEMU's start-up and
   * the library's work), not 8 guests booting on the same cores. */
  q_machine_add_args (machine, "-S", NULL);

  g_ptr_array_add (resp.machines, machine);
  q_machine_launch_async (machine, NULL, resp_launched_cb, resp.app);
  resp.launch_call_max = MAX (resp.launch_call_max, g_get_monotonic_time () - before);
  return --resp.to_start > 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* CPU time of the calling thread, in µs. */
static gint64
thread_cpu_time (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static gboolean
tick_cb (GtkWidget *widget, GdkFrameClock *clock, gpointer data)
{
  gint64 now = g_get_monotonic_time ();
  gint64 cpu = thread_cpu_time ();

  if (resp.launching > 0 && resp.last_frame != 0 && resp.started != 0 &&
      now - resp.last_frame > resp.longest_gap)
    {
      resp.longest_gap = now - resp.last_frame;
      resp.longest_gap_cpu = cpu - resp.last_frame_cpu;
    }
  resp.last_frame = now;
  resp.last_frame_cpu = cpu;
  /* The window is on screen and drawing: start the launches. */
  if (resp.started == 0)
    {
      resp.started = now;
      g_idle_add (start_one, NULL);
    }
  gtk_widget_queue_draw (widget);
  return G_SOURCE_CONTINUE;
}

static void
resp_killed_cb (GObject *object, GAsyncResult *result, gpointer data)
{
  GApplication *app = data;

  q_machine_kill_finish (Q_MACHINE (object), result, NULL);
  if (--resp.launching == 0)
    g_application_quit (app);
}

static void
resp_launched_cb (GObject *object, GAsyncResult *result, gpointer data)
{
  GApplication *app = data;
  g_autoptr(GError) error = NULL;

  if (!q_machine_launch_finish (Q_MACHINE (object), result, &error))
    {
      g_printerr ("viewer: %s\n", error->message);
      exit (1);
    }
  if (--resp.launching > 0)
    return;

  g_print ("responsiveness: %u machines launched in %.0f ms; longest gap between frames %.1f ms "
           "(target < 50 ms), of which the main thread ran %.1f ms; longest q_machine_launch_async "
           "call %.1f ms\n", resp.machines->len,
           (g_get_monotonic_time () - resp.started) / 1000.0, resp.longest_gap / 1000.0,
           resp.longest_gap_cpu / 1000.0, resp.launch_call_max / 1000.0);
  resp.launching = resp.machines->len;
  for (guint i = 0; i < resp.machines->len; i++)
    q_machine_kill_async (g_ptr_array_index (resp.machines, i), NULL, resp_killed_cb, app);
}

static void
start_responsiveness (GtkApplication *app)
{
  GtkWidget *window = gtk_application_window_new (app);
  GtkWidget *area = gtk_drawing_area_new ();

  gtk_window_set_title (GTK_WINDOW (window), "qmachine: responsiveness");
  gtk_window_set_default_size (GTK_WINDOW (window), 320, 200);
  gtk_window_set_child (GTK_WINDOW (window), area);
  gtk_widget_add_tick_callback (area, tick_cb, NULL, NULL);
  gtk_window_present (GTK_WINDOW (window));

  resp.app = G_APPLICATION (app);
  resp.machines = g_ptr_array_new_with_free_func (g_object_unref);
  resp.launching = resp.to_start = responsiveness;
  g_signal_connect_swapped (window, "close-request", G_CALLBACK (g_application_quit), app);
}

/* ------------------------------------------------------------------------ */

static void
activate_cb (GtkApplication *app, gpointer data)
{
  if (responsiveness > 0)
    {
      start_responsiveness (app);
      return;
    }

  self_test.viewer = viewer_new (app, new_guest_machine ("viewer", 256));
  if (self_test_png != NULL)
    {
      g_timeout_add_seconds (180, self_test_guard, NULL);
      self_test_step ();
    }
}

int
main (int argc, char *argv[])
{
  g_autoptr(GtkApplication) app = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  GOptionEntry entries[] = {
    { "self-test", 0, 0, G_OPTION_ARG_FILENAME, &self_test_png,
      "Drive one window and save its screenshot to FILE", "FILE" },
    { "responsiveness", 0, 0, G_OPTION_ARG_INT, &responsiveness,
      "Launch N machines and print the longest gap between frames", "N" },
    { NULL }
  };
  int status;

  context = g_option_context_new ("KERNEL INITRD - a GTK viewer for qmachine machines");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 3)
    {
      g_printerr ("Usage: viewer [--self-test=FILE|--responsiveness=N] KERNEL INITRD\n");
      return 2;
    }
  kernel_path = argv[1];
  initrd_path = argv[2];

  app = gtk_application_new ("org.qmachine.Viewer", G_APPLICATION_NON_UNIQUE);
  g_signal_connect (app, "activate", G_CALLBACK (activate_cb), NULL);
  status = g_application_run (G_APPLICATION (app), 1, argv);
  if (self_test_png != NULL && !self_test.ok)
    {
      g_printerr ("viewer self-test: FAILED: the application ended early\n");
      return 1;
    }
  /* The wall-clock gap includes waiting for a CPU while 8 QEMUs start
   * on the same cores; what the library controls is how long the main
   * thread itself was busy. */
  if (responsiveness > 0 && (resp.machines == NULL || resp.longest_gap_cpu >= 50 * 1000))
    return 1;
  return status;
}
