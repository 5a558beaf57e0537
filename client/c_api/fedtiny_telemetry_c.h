/* The C API for telemetry consent (issue #15, docs/observability.md): the app
 * records the user's consent, the user views, withdraws or deletes it with the
 * recorded data. Linux SDK only (client/telemetry: Abseil, protobuf, OpenSSL),
 * so not part of the portable fedtiny_c.h build for microcontrollers.
 *
 *   fedtiny_telemetry* t;
 *   fedtiny_telemetry_create("/data/app/telemetry_consent", 8, &t);
 *   fedtiny_consent_grant(t, "model quality and speed", "latency,memory",
 * "v1"); fedtiny_consent_record r; fedtiny_consent_view(t, &r);
 *   fedtiny_consent_withdraw(t);  or  fedtiny_consent_delete_with_data(t);
 *   fedtiny_telemetry_destroy(t);
 *
 * A handle is thread-safe (the consent and recorder behind it are); it keeps
 * the message of its last failure (fedtiny_telemetry_error). */
#ifndef FEDTINY_CLIENT_C_API_FEDTINY_TELEMETRY_C_H_
#define FEDTINY_CLIENT_C_API_FEDTINY_TELEMETRY_C_H_

#include <stdint.h>

#include "client/c_api/fedtiny_c.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fedtiny_telemetry fedtiny_telemetry;

/* The consent as the user sees it; strings NUL-terminated. */
typedef struct {
  int granted; /* 1 granted, 0 not (or withdrawn). */
  char purpose[256];
  char scope[256];
  char version[64];
  int64_t time_unix_s; /* When granted or withdrawn; 0 without a record. */
} fedtiny_consent_record;

/* Opens the consent stored at `consent_path` (absent: not granted) and a
 * recorder of `ring_windows` closed windows (1..64) that records only while
 * consent is granted. FEDTINY_INVALID_ARGUMENT for a null or bad argument,
 * FEDTINY_INTERNAL for a storage error. */
fedtiny_status fedtiny_telemetry_create(const char* consent_path,
                                        int32_t ring_windows,
                                        fedtiny_telemetry** out);

/* Records the user's consent (now) and starts recording; written atomically,
 * mode 0600. FEDTINY_INVALID_ARGUMENT for an empty or null string (or one
 * longer than the record's field), FEDTINY_INTERNAL if it cannot be stored. */
fedtiny_status fedtiny_consent_grant(fedtiny_telemetry* t, const char* purpose,
                                     const char* scope, const char* version);
/* Copies the record into `out`. */
fedtiny_status fedtiny_consent_view(fedtiny_telemetry* t,
                                    fedtiny_consent_record* out);
/* Stops recording and export, stores the record as withdrawn (now). */
fedtiny_status fedtiny_consent_withdraw(fedtiny_telemetry* t);
/* Stops recording, erases the recorded windows and the stored record. */
fedtiny_status fedtiny_consent_delete_with_data(fedtiny_telemetry* t);
/* 1 while the recorder records (consent granted), else 0. */
int fedtiny_telemetry_recording(const fedtiny_telemetry* t);
/* Windows held (open and closed). */
int32_t fedtiny_telemetry_windows(const fedtiny_telemetry* t);

const char* fedtiny_telemetry_error(const fedtiny_telemetry* t);
void fedtiny_telemetry_destroy(fedtiny_telemetry* t);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FEDTINY_CLIENT_C_API_FEDTINY_TELEMETRY_C_H_ */
