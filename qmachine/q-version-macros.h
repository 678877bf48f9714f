/* q-version-macros.h
 *
 * Copyright 2026 The qmachine authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMACHINE_INSIDE) && !defined(QMACHINE_COMPILATION)
# error "Only <qmachine.h> can be included directly."
#endif

#include <glib.h>

#include "q-version.h"

#ifndef _QMACHINE_EXTERN
# if defined(QMACHINE_COMPILATION) && defined(__GNUC__)
#  define _QMACHINE_EXTERN __attribute__((visibility("default"))) extern
# else
#  define _QMACHINE_EXTERN extern
# endif
#endif

#ifdef QMACHINE_DISABLE_DEPRECATION_WARNINGS
# define QMACHINE_DEPRECATED _QMACHINE_EXTERN
# define QMACHINE_DEPRECATED_FOR(f) _QMACHINE_EXTERN
# define QMACHINE_UNAVAILABLE(maj,min) _QMACHINE_EXTERN
#else
# define QMACHINE_DEPRECATED G_DEPRECATED _QMACHINE_EXTERN
# define QMACHINE_DEPRECATED_FOR(f) G_DEPRECATED_FOR(f) _QMACHINE_EXTERN
# define QMACHINE_UNAVAILABLE(maj,min) G_UNAVAILABLE(maj,min) _QMACHINE_EXTERN
#endif

#define QMACHINE_VERSION_1_0 (QMACHINE_ENCODE_VERSION (1, 0, 0))

#define QMACHINE_AVAILABLE_IN_ALL _QMACHINE_EXTERN
#define QMACHINE_AVAILABLE_IN_1_0 _QMACHINE_EXTERN
