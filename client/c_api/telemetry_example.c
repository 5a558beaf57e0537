/* The telemetry consent C API as an app uses it, compiled as C; also its test
 * (exits non-zero on the first failed check). Consent is off by default,
 * granted, viewed, withdrawn, persisted across a re-open, deleted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client/c_api/fedtiny_telemetry_c.h"

#define CHECK(cond)                                               \
  do {                                                            \
    if (!(cond)) {                                                \
      fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
      return 1;                                                   \
    }                                                             \
  } while (0)

int main(void) {
  const char* dir = getenv("TEST_TMPDIR");
  char path[512];
  snprintf(path, sizeof(path), "%s/telemetry_consent", dir ? dir : "/tmp");
  remove(path);

  fedtiny_telemetry* t = NULL;
  CHECK(fedtiny_telemetry_create(path, 8, &t) == FEDTINY_OK);
  fedtiny_consent_record r;
  CHECK(fedtiny_consent_view(t, &r) == FEDTINY_OK);
  CHECK(r.granted == 0 && r.version[0] == '\0');  /* Off by default. */
  CHECK(fedtiny_telemetry_recording(t) == 0);

  CHECK(fedtiny_consent_grant(t, "", "latency", "v1") == FEDTINY_INVALID_ARGUMENT);
  CHECK(strlen(fedtiny_telemetry_error(t)) > 0);
  CHECK(fedtiny_consent_grant(t, "model quality and speed", "latency,memory", "v1") ==
        FEDTINY_OK);
  CHECK(fedtiny_telemetry_recording(t) == 1);
  CHECK(fedtiny_consent_view(t, &r) == FEDTINY_OK);
  CHECK(r.granted == 1 && strcmp(r.purpose, "model quality and speed") == 0 &&
        strcmp(r.scope, "latency,memory") == 0 && strcmp(r.version, "v1") == 0 &&
        r.time_unix_s > 1700000000);
  struct stat st;
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);

  CHECK(fedtiny_consent_withdraw(t) == FEDTINY_OK);
  CHECK(fedtiny_telemetry_recording(t) == 0);
  fedtiny_telemetry_destroy(t);

  /* Re-opened: the withdrawal was stored. */
  CHECK(fedtiny_telemetry_create(path, 8, &t) == FEDTINY_OK);
  CHECK(fedtiny_consent_view(t, &r) == FEDTINY_OK);
  CHECK(r.granted == 0 && strcmp(r.version, "v1") == 0);
  CHECK(fedtiny_telemetry_recording(t) == 0);

  CHECK(fedtiny_consent_grant(t, "quality", "latency", "v2") == FEDTINY_OK);
  CHECK(fedtiny_consent_delete_with_data(t) == FEDTINY_OK);
  CHECK(fedtiny_consent_view(t, &r) == FEDTINY_OK);
  CHECK(r.granted == 0 && r.version[0] == '\0' && r.time_unix_s == 0);
  CHECK(fedtiny_telemetry_windows(t) == 0);
  CHECK(stat(path, &st) != 0);
  fedtiny_telemetry_destroy(t);

  CHECK(fedtiny_telemetry_create(path, 0, &t) == FEDTINY_INVALID_ARGUMENT);
  printf("telemetry consent C API: ok\n");
  return 0;
}
