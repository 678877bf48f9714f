/* q-fs.c: files and directories opened from a directory we opened
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The rule (q-fs-private.h): a path is walked component by component with
 * O_NOFOLLOW from a descriptor we hold, and each directory stepped through
 * is checked against writes by other users. openat2()'s
 * RESOLVE_NO_SYMLINKS would refuse links in one call, but it cannot tell
 * who may write each directory on the way, so the walk is needed anyway;
 * it costs two system calls a component.
 */

#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "q-fs-private.h"

/* Deepest directory tree q_fs_remove_tree() goes into. */
#define REMOVE_MAX_DEPTH 32

static gboolean
owner_is_trusted (const struct stat *st)
{
  return st->st_uid == geteuid () || st->st_uid == 0;
}

/* Whether a user other than this one (and root) can change the entries of
 * the directory @st. */
static gboolean
dir_is_shared (const struct stat *st)
{
  if (!owner_is_trusted (st))
    return TRUE;
  if (st->st_mode & S_IWOTH)
    return TRUE;
  if ((st->st_mode & S_IWGRP) && st->st_gid != getegid ())
    return TRUE;
  return FALSE;
}

/* A shared directory whose entries only their owners can rename or remove:
 * sticky, and owned by this user or root (the owner of a sticky directory
 * can still remove anything in it). */
static gboolean
dir_is_sticky_safe (const struct stat *st)
{
  return (st->st_mode & S_ISVTX) && owner_is_trusted (st);
}

/* Why the directory @st cannot be trusted, for messages. */
static char *
describe_shared (const struct stat *st)
{
  if (!owner_is_trusted (st))
    return g_strdup_printf ("belongs to another user (uid %u)", (guint)st->st_uid);
  return g_strdup_printf ("can be written by other users (mode %04o%s)",
                          (guint)(st->st_mode & 07777),
                          (st->st_mode & S_ISVTX) ? "" : ", not sticky");
}

static void
set_errno_error (GError     **error,
                 int          errsv,
                 const char  *what,
                 const char  *path,
                 const char  *step)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
               "Could not use the %s %s: %s: %s", what, path, step, g_strerror (errsv));
}

/* After openat(@dir_fd, @name, ... O_NOFOLLOW) failed with @errsv: a
 * clearer message when @name is a symbolic link. */
static void
set_open_error (GError     **error,
                int          errsv,
                int          dir_fd,
                const char  *name,
                const char  *what,
                const char  *path,
                const char  *step)
{
  struct stat st;

  if ((errsv == ELOOP || errsv == ENOTDIR || errsv == EMLINK) &&
      fstatat (dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK (st.st_mode))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "Could not use the %s %s: %s is a symbolic link, which qmachine does not "
                 "follow (give the path it points to, or choose another)", what, path, step);
  else
    set_errno_error (error, errsv, what, path, step);
}

static void
set_shared_error (GError           **error,
                  const char        *what,
                  const char        *path,
                  const char        *dir,
                  const struct stat *st,
                  const char        *entry)
{
  g_autofree char *why = describe_shared (st);

  if (entry != NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "Could not use the %s %s: %s %s, so another user could replace %s; "
                 "use a directory that only this user can write",
                 what, path, dir, why, entry);
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "Could not use the %s %s: %s %s, so another user could replace what "
                 "qmachine creates there; use a directory that only this user can write",
                 what, path, dir, why);
}

int
q_fs_open_dir (const char   *path,
               QFsDirFlags   flags,
               const char   *what,
               GError      **error)
{
  g_auto(GStrv) parts = NULL;
  g_autoptr(GString) walked = NULL;
  struct stat st;
  int fd;
  guint last = 0;

  g_return_val_if_fail (path != NULL, -1);

  if (*path == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The %s is an empty path", what);
      return -1;
    }

  walked = g_string_new (g_path_is_absolute (path) ? "/" : ".");
  fd = open (walked->str, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fstat (fd, &st) != 0)
    {
      int errsv = errno;

      if (fd >= 0)
        close (fd);
      set_errno_error (error, errsv, what, path, walked->str);
      return -1;
    }

  parts = g_strsplit (path, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (parts[i][0] != '\0' && !g_str_equal (parts[i], "."))
      last = i;

  for (guint i = 0; parts[i] != NULL; i++)
    {
      const char *name = parts[i];
      struct stat child;
      int child_fd;

      if (name[0] == '\0' || g_str_equal (name, "."))
        continue;

      if (walked->len > 1 || walked->str[0] != '/')
        g_string_append_c (walked, '/');
      g_string_append (walked, name);

      if (g_str_equal (name, ".."))
        {
          /* The real parent: nothing can be planted on the way. */
          child_fd = openat (fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
          if (child_fd < 0 || fstat (child_fd, &child) != 0)
            {
              int errsv = errno;

              if (child_fd >= 0)
                close (child_fd);
              close (fd);
              set_errno_error (error, errsv, what, path, walked->str);
              return -1;
            }
          close (fd);
          fd = child_fd;
          st = child;
          continue;
        }

      child_fd = openat (fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child_fd < 0 && errno == ENOENT && i == last && (flags & Q_FS_DIR_CREATE))
        {
          /* Made only where nobody else can take the name from us. */
          if (dir_is_shared (&st) && !dir_is_sticky_safe (&st))
            {
              g_autofree char *dir = g_path_get_dirname (walked->str);

              set_shared_error (error, what, path, dir, &st, NULL);
              close (fd);
              return -1;
            }
          if (mkdirat (fd, name, 0700) != 0 && errno != EEXIST)
            {
              int errsv = errno;

              close (fd);
              set_errno_error (error, errsv, what, path, "could not create it");
              return -1;
            }
          child_fd = openat (fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
      if (child_fd < 0)
        {
          int errsv = errno;

          set_open_error (error, errsv, fd, name, what, path, walked->str);
          close (fd);
          return -1;
        }
      if (fstat (child_fd, &child) != 0)
        {
          int errsv = errno;

          close (child_fd);
          close (fd);
          set_errno_error (error, errsv, what, path, walked->str);
          return -1;
        }

      /* Stepping from @st to @child: only safe when nobody else could
       * have put @child there. */
      if (dir_is_shared (&st) && dir_is_sticky_safe (&st) && !owner_is_trusted (&child))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                       "Could not use the %s %s: %s belongs to another user (uid %u), who "
                       "made it in a directory everyone can write; use a directory of "
                       "this user's", what, path, walked->str, (guint)child.st_uid);
          close (child_fd);
          close (fd);
          return -1;
        }
      if (dir_is_shared (&st) && !dir_is_sticky_safe (&st))
        {
          g_autofree char *dir = g_path_get_dirname (walked->str);

          set_shared_error (error, what, path, dir, &st, walked->str);
          close (child_fd);
          close (fd);
          return -1;
        }

      close (fd);
      fd = child_fd;
      st = child;
    }

  /* The directory itself: entries made in it must stay ours. */
  if (dir_is_shared (&st) && !dir_is_sticky_safe (&st))
    {
      set_shared_error (error, what, path, walked->str, &st, NULL);
      close (fd);
      return -1;
    }

  return fd;
}

/* The last component of @path, for a file: not empty, not "." or "..". */
static gboolean
split_file_path (const char  *path,
                 char       **dir,
                 char       **base,
                 const char  *what,
                 GError     **error)
{
  g_autofree char *b = g_path_get_basename (path);

  if (*path == '\0' || g_str_has_suffix (path, "/") || g_str_equal (b, ".") ||
      g_str_equal (b, "..") || g_str_equal (b, "/"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The %s \"%s\" does not name a file", what, path);
      return FALSE;
    }
  *dir = g_path_get_dirname (path);
  *base = g_steal_pointer (&b);
  return TRUE;
}

int
q_fs_open_private_file_at (int           dir_fd,
                           const char   *name,
                           const char   *path,
                           const char   *what,
                           GError      **error)
{
  struct stat st;
  int fd;

  fd = openat (dir_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0)
    {
      int errsv = errno;

      if (errsv == ELOOP)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                     "Could not create the %s %s: it is a symbolic link, which qmachine "
                     "does not follow (remove it, or choose another path)", what, path);
      else
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                     "Could not create the %s %s: %s", what, path, g_strerror (errsv));
      return -1;
    }

  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_uid != geteuid () ||
      st.st_nlink != 1)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "Could not create the %s %s: it exists and is not a plain file of this "
                   "user's with one name", what, path);
      close (fd);
      return -1;
    }

  if (ftruncate (fd, 0) != 0 || fchmod (fd, 0600) != 0)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Could not prepare the %s %s: %s", what, path, g_strerror (errsv));
      close (fd);
      return -1;
    }

  return fd;
}

/* The directory of the file @path, opened with q_fs_open_dir; its last
 * component in @base. */
static int
open_parent (const char   *path,
             const char   *what,
             char        **base,
             GError      **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *dir_what = NULL;

  if (!split_file_path (path, &dir, base, what, error))
    return -1;
  dir_what = g_strdup_printf ("directory of the %s", what);
  return q_fs_open_dir (dir, Q_FS_DIR_NONE, dir_what, error);
}

int
q_fs_open_private_file (const char   *path,
                        const char   *what,
                        GError      **error)
{
  g_autofree char *base = NULL;
  int dir_fd = open_parent (path, what, &base, error);
  int fd;

  if (dir_fd < 0)
    return -1;
  fd = q_fs_open_private_file_at (dir_fd, base, path, what, error);
  close (dir_fd);
  return fd;
}

int
q_fs_open_anonymous_file (const char   *dir,
                          const char   *what,
                          GError      **error)
{
  g_autofree char *dir_what = g_strdup_printf ("directory for the %s", what);
  int dir_fd = q_fs_open_dir (dir, Q_FS_DIR_NONE, dir_what, error);
  int fd;

  if (dir_fd < 0)
    return -1;
  fd = openat (dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0)
    {
      int errsv = errno;

      close (dir_fd);
      if (errsv == EOPNOTSUPP || errsv == EISDIR || errsv == EINVAL)
        return -1;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Could not create the %s in %s: %s", what, dir, g_strerror (errsv));
      return -1;
    }
  close (dir_fd);
  return fd;
}

static char *
random_name (const char *prefix)
{
  static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  GString *s = g_string_new (prefix);

  g_string_append_c (s, '-');
  for (guint i = 0; i < 6; i++)
    g_string_append_c (s, chars[g_random_int_range (0, sizeof chars - 1)]);
  return g_string_free (s, FALSE);
}

char *
q_fs_make_temp_dir (const char   *base,
                    const char   *prefix,
                    GError      **error)
{
  int dir_fd = q_fs_open_dir (base, Q_FS_DIR_NONE, "base temporary directory", error);

  if (dir_fd < 0)
    return NULL;

  for (guint tries = 0; tries < 100; tries++)
    {
      g_autofree char *name = random_name (prefix);

      if (mkdirat (dir_fd, name, 0700) == 0)
        {
          close (dir_fd);
          return g_build_filename (base, name, NULL);
        }
      if (errno != EEXIST)
        {
          int errsv = errno;

          close (dir_fd);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       "Could not create a temporary directory in %s: %s",
                       base, g_strerror (errsv));
          return NULL;
        }
    }

  close (dir_fd);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
               "Could not create a temporary directory in %s: every name tried was taken",
               base);
  return NULL;
}

int
q_fs_create_unique_at (int           dir_fd,
                       const char   *prefix,
                       int           mode,
                       char        **name,
                       GError      **error)
{
  for (guint tries = 0; tries < 100; tries++)
    {
      g_autofree char *candidate = random_name (prefix);
      int fd = openat (dir_fd, candidate,
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);

      if (fd >= 0)
        {
          *name = g_steal_pointer (&candidate);
          return fd;
        }
      if (errno != EEXIST)
        {
          int errsv = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       "Could not create a file: %s", g_strerror (errsv));
          return -1;
        }
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
               "Could not create a file: every name tried was taken");
  return -1;
}

/* Empties the directory @dir_fd (opened for reading), descending into
 * real directories only. */
static void
remove_contents (int   dir_fd,
                 guint depth)
{
  int list_fd = openat (dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir;
  struct dirent *entry;

  if (list_fd < 0)
    return;
  dir = fdopendir (list_fd);
  if (dir == NULL)
    {
      close (list_fd);
      return;
    }

  while ((entry = readdir (dir)) != NULL)
    {
      const char *name = entry->d_name;
      int child_fd;

      if (g_str_equal (name, ".") || g_str_equal (name, ".."))
        continue;
      if (unlinkat (dir_fd, name, 0) == 0 || (errno != EISDIR && errno != EPERM))
        continue;
      if (depth >= REMOVE_MAX_DEPTH)
        continue;
      child_fd = openat (dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child_fd < 0)
        continue;
      remove_contents (child_fd, depth + 1);
      close (child_fd);
      unlinkat (dir_fd, name, AT_REMOVEDIR);
    }
  closedir (dir);
}

void
q_fs_remove_tree (const char *path)
{
  g_autofree char *parent = NULL;
  g_autofree char *base = NULL;
  struct stat st, now;
  int parent_fd;
  int dir_fd;

  if (path == NULL || !split_file_path (path, &parent, &base, "directory", NULL))
    return;
  parent_fd = q_fs_open_dir (parent, Q_FS_DIR_NONE, "directory", NULL);
  if (parent_fd < 0)
    return;

  dir_fd = openat (parent_fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir_fd < 0)
    goto out;
  if (fstat (dir_fd, &st) != 0 || st.st_uid != geteuid ())
    goto out;

  remove_contents (dir_fd, 0);

  /* Only the directory just emptied, should the name have moved. */
  if (fstatat (parent_fd, base, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
      now.st_dev == st.st_dev && now.st_ino == st.st_ino)
    unlinkat (parent_fd, base, AT_REMOVEDIR);

out:
  if (dir_fd >= 0)
    close (dir_fd);
  close (parent_fd);
}

gboolean
q_fs_check_socket_path (const char   *path,
                        const char   *what,
                        GError      **error)
{
  g_autofree char *base = NULL;
  int dir_fd = open_parent (path, what, &base, error);
  struct stat st;
  gboolean exists;

  if (dir_fd < 0)
    return FALSE;
  exists = fstatat (dir_fd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
  close (dir_fd);

  if (exists)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   "Could not make the %s %s: something exists there already (qmachine "
                   "makes the socket itself; remove it, or choose another path)", what, path);
      return FALSE;
    }
  return TRUE;
}

void
q_fs_remove_socket (const char *path)
{
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  struct stat st;
  int dir_fd;

  if (path == NULL || !split_file_path (path, &dir, &base, "socket", NULL))
    return;
  dir_fd = q_fs_open_dir (dir, Q_FS_DIR_NONE, "socket directory", NULL);
  if (dir_fd < 0)
    return;
  if (fstatat (dir_fd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK (st.st_mode) &&
      st.st_uid == geteuid ())
    unlinkat (dir_fd, base, 0);
  close (dir_fd);
}
