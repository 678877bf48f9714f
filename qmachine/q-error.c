/* q-error.c
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "q-error.h"
#include "q-util-private.h"

G_DEFINE_QUARK (q-machine-error-quark, q_machine_error)
G_DEFINE_QUARK (q-qmp-error-quark, q_qmp_error)
G_DEFINE_QUARK (q-qtest-error-quark, q_qtest_error)

static const struct {
  const char *name;
  QQmpError   code;
} qmp_classes[] = {
  { "GenericError",    Q_QMP_ERROR_GENERIC_ERROR },
  { "CommandNotFound", Q_QMP_ERROR_COMMAND_NOT_FOUND },
  { "DeviceNotActive", Q_QMP_ERROR_DEVICE_NOT_ACTIVE },
  { "DeviceNotFound",  Q_QMP_ERROR_DEVICE_NOT_FOUND },
  { "KVMMissingCap",   Q_QMP_ERROR_KVM_MISSING_CAP },
};

GError *
q_qmp_error_from_json (JsonObject *error_object)
{
  const char *klass = q_json_get_string (error_object, "class");
  const char *desc = q_json_get_string (error_object, "desc");

  if (desc == NULL)
    desc = "(QEMU gave no description)";

  for (guint i = 0; klass && i < G_N_ELEMENTS (qmp_classes); i++)
    {
      if (strcmp (klass, qmp_classes[i].name) == 0)
        return g_error_new_literal (Q_QMP_ERROR, qmp_classes[i].code, desc);
    }

  return g_error_new (Q_QMP_ERROR, Q_QMP_ERROR_UNKNOWN_CLASS, "[%s] %s",
                      klass ? klass : "no class", desc);
}

char *
q_shell_join (const char * const *argv)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; argv && argv[i]; i++)
    {
      g_autofree char *quoted = NULL;
      const char *arg = argv[i];
      gboolean plain = *arg != '\0';

      for (const char *c = arg; *c && plain; c++)
        plain = g_ascii_isalnum (*c) || strchr ("-_./=:,@+%", *c) != NULL;

      if (i > 0)
        g_string_append_c (s, ' ');
      if (plain)
        g_string_append (s, arg);
      else
        {
          quoted = g_shell_quote (arg);
          g_string_append (s, quoted);
        }
    }

  return g_string_free (s, FALSE);
}
