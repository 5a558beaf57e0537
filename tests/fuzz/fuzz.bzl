"""fuzz_target: one libFuzzer harness, built three ways.

  <name>_replay_test  cc_test in the normal suite (any compiler): the harness
                      linked with replay_main.cc, run on the seed corpus plus a
                      bounded number of deterministic mutations.
  <name>_fuzzer       the libFuzzer binary under --config=fuzz (clang,
                      -fsanitize=fuzzer + ASan + UBSan); without it, the replay
                      driver. Tagged manual.
  <name>_libfuzzer_test  the long coverage-guided run (manual): $FUZZ_SECONDS
                      (default 600) of libFuzzer on a scratch copy of the corpus.
  <name>_findings_test  (manual, when findings/<name>/ has files) replays the
                      reproducers of FINDINGS.md strictly: fails until they are fixed.

The replay and libFuzzer tests treat the defects listed in open_findings.txt as
known (counted, not fatal), so they keep guarding everything else meanwhile.
"""

_OPEN_FINDINGS = "open_findings.txt"


def fuzz_target(name, srcs, deps = [], mutations = 2000, max_len = 4096, size = "small"):
    corpus = "corpus/" + name
    corpus_path = native.package_name() + "/" + corpus
    native.cc_library(
        name = name + "_harness",
        testonly = True,
        srcs = srcs,
        deps = deps + [":fuzz_check", ":fuzz_input"],
        alwayslink = True,
    )
    native.filegroup(
        name = name + "_corpus",
        testonly = True,
        srcs = native.glob([corpus + "/**"]),
    )
    open_env = {"FEDTINY_FUZZ_OPEN_FINDINGS": native.package_name() + "/" + _OPEN_FINDINGS}
    native.cc_test(
        name = name + "_replay_test",
        size = size,
        args = [
            "--mutations=%d" % mutations,
            "--max_len=%d" % max_len,
            corpus_path,
        ],
        data = [
            ":" + name + "_corpus",
            _OPEN_FINDINGS,
        ],
        env = open_env,
        deps = [
            ":" + name + "_harness",
            ":replay_main",
        ],
    )
    findings = native.glob(["findings/" + name + "/**"])
    if findings:
        native.cc_test(
            name = name + "_findings_test",
            size = size,
            args = [
                "--mutations=0",
                native.package_name() + "/findings/" + name,
            ],
            data = findings,
            tags = ["manual"],
            deps = [
                ":" + name + "_harness",
                ":replay_main",
            ],
        )
    native.cc_binary(
        name = name + "_fuzzer",
        testonly = True,
        linkopts = select({
            ":libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        tags = ["manual"],
        deps = [":" + name + "_harness"] + select({
            ":libfuzzer": [],
            "//conditions:default": [":replay_main"],
        }),
    )
    native.sh_test(
        name = name + "_libfuzzer_test",
        size = "enormous",
        srcs = ["run_libfuzzer.sh"],
        args = [
            "$(rootpath :%s_fuzzer)" % name,
            corpus_path,
            "-max_len=%d" % max_len,
        ],
        data = [
            ":" + name + "_corpus",
            ":" + name + "_fuzzer",
            _OPEN_FINDINGS,
        ],
        env = open_env,
        tags = ["manual"],
    )
