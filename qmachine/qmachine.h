/* qmachine.h
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define QMACHINE_INSIDE
# include "q-version.h"
# include "q-version-macros.h"
# include "q-enum-types.h"
# include "q-error.h"
# include "q-console.h"
# include "q-guest-agent.h"
# include "q-qmp-client.h"
# include "q-qtest-client.h"
# include "q-machine.h"
#undef QMACHINE_INSIDE

G_END_DECLS
