/* q-fs-private.h: files and directories opened from a directory we opened
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Every path qmachine creates, opens or removes something in goes through
 * here. A path is walked one component at a time from "/", each step
 * opened with O_PATH | O_DIRECTORY | O_NOFOLLOW relative to the directory
 * opened before it, so no symbolic link is followed anywhere in it. Each
 * directory stepped through must be safe: no other user can write it
 * (owner this user or root, no write bit for others, no group write for a
 * group other than ours), or it is sticky and the entry taken from it
 * belongs to this user or root, so nobody else can rename or replace that
 * entry. A refusal is G_IO_ERROR_PERMISSION_DENIED with a message naming
 * the directory and the reason. Relative paths are taken from the current
 * directory; ".." is resolved by name, which is exact because no
 * component may be a link. */

typedef enum
{
  Q_FS_DIR_NONE   = 0,
  Q_FS_DIR_CREATE = 1 << 0,   /* make the last component, mode 0700, if missing */
} QFsDirFlags;

/* An O_PATH descriptor of the directory @path, or -1 with @error set.
 * @what names the directory in messages ("log directory"). The directory
 * itself must be safe to create entries in: private, or sticky. */
int       q_fs_open_dir             (const char   *path,
                                     QFsDirFlags   flags,
                                     const char   *what,
                                     GError      **error);

/* Opens (creating if needed) the file @name in @dir_fd for reading and
 * writing: not through a link, a plain file of this user's with one name
 * (no hard link to another file), mode 0600, truncated once checked.
 * @path is for messages. */
int       q_fs_open_private_file_at (int           dir_fd,
                                     const char   *name,
                                     const char   *path,
                                     const char   *what,
                                     GError      **error);

/* The same for a full path: its directory is opened with q_fs_open_dir. */
int       q_fs_open_private_file    (const char   *path,
                                     const char   *what,
                                     GError      **error);

/* An unnamed file (O_TMPFILE) in the safe directory @dir. -1 with @error
 * unset when the file system has none (the caller falls back to a named
 * file); -1 with @error set when @dir is refused or cannot be used. */
int       q_fs_open_anonymous_file  (const char   *dir,
                                     const char   *what,
                                     GError      **error);

/* Makes a new directory named @prefix, a dash and six random letters or
 * digits, with mode 0700 in the safe directory @base; returns its path. */
char     *q_fs_make_temp_dir        (const char   *base,
                                     const char   *prefix,
                                     GError      **error);

/* Creates a new file in @dir_fd under a new random name beginning with
 * @prefix (O_CREAT | O_EXCL | O_NOFOLLOW, @mode), for writing; stores the
 * name in @name. */
int       q_fs_create_unique_at     (int           dir_fd,
                                     const char   *prefix,
                                     int           mode,
                                     char        **name,
                                     GError      **error);

/* Removes the directory @path, which qmachine made, and everything in it,
 * through descriptors: the directory is opened without following a link
 * and must belong to this user; nothing outside it is touched, whatever
 * was renamed or planted meanwhile. Best effort, silent. */
void      q_fs_remove_tree          (const char   *path);

/* Checks that a unix socket may be made at @path: its directory is safe
 * (as q_fs_open_dir) and nothing exists at @path yet. */
gboolean  q_fs_check_socket_path    (const char   *path,
                                     const char   *what,
                                     GError      **error);

/* Removes the socket at @path when it is a socket of this user's (the
 * one qmachine bound); anything else there is left alone. */
void      q_fs_remove_socket        (const char   *path);

G_END_DECLS
