// The report probabilities of proto/telemetry.proto's k-ary randomized
// response, computed the same way by devices (which randomize with them) and
// the coordinator (which inverts them), as proto/meter_chain does for the
// usage chain. Pure; thread-safe.
#ifndef FEDTINY_PROTO_TELEMETRY_KRR_H_
#define FEDTINY_PROTO_TELEMETRY_KRR_H_

namespace fedtiny::telemetry {

// p: the probability of reporting the true bin; q: of each other bin.
struct KrrProbabilities {
  double p = 0;
  double q = 0;
};

// KrrFor gives p = e^eps / (e^eps + k - 1) and q = 1 / (e^eps + k - 1) for k >= 2
// bins and eps > 0, computed as 1 / (1 + (k - 1) e^-eps) and
// e^-eps / (1 + (k - 1) e^-eps), so that a large epsilon does not overflow.
KrrProbabilities KrrFor(int k, double epsilon);

}  // namespace fedtiny::telemetry

#endif  // FEDTINY_PROTO_TELEMETRY_KRR_H_
