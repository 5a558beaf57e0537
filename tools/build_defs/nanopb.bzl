"""C code for microcontrollers from the project's .proto files, with Debian's nanopb.

Runs protoc with the nanopb generator plugin (/usr/bin/protoc-gen-nanopb, package
`nanopb`) in a genrule, like proto.bzl does for the C++ code. The generated files
take the extension `.nanopb.{h,c}` so they never collide with protoc's C++
`.pb.h` of the same .proto; they land in bazel-bin, never in git.
"""

def nanopb_library(name, srcs, options_dir = "", options = [], deps = [], visibility = None):
    """Declares `name`, a cc_library (compiled as C) over nanopb code for `srcs`.

    For a .proto at `proto/model.proto` it generates `proto/model.nanopb.h` and
    `proto/model.nanopb.c` under this package, included as "proto/model.nanopb.h"
    (the generated code includes its imports the same way).

    Args:
      name: the cc_library's name.
      srcs: labels of the .proto files (e.g. "//proto:model.proto"); each one's
        imports must be in `srcs` too. Written as "//pkg:file.proto".
      options_dir: the directory, relative to this package, that holds the
        `.options` files at the .proto files' paths (e.g. "" for
        `<this package>/proto/model.options`).
      options: the .options files, so that editing one regenerates.
      deps: more cc deps of the generated code.
      visibility: as usual.
    """
    outs_h = []
    outs_c = []
    paths = []
    for src in srcs:
        path = src.lstrip("/").replace(":", "/")
        if not path.endswith(".proto"):
            fail("nanopb_library: %s is not a .proto" % src)
        paths.append(path)
        base = path[:-len(".proto")]
        outs_h.append(base + ".nanopb.h")
        outs_c.append(base + ".nanopb.c")
    options_path = native.package_name()
    if options_dir:
        options_path = options_path + "/" + options_dir
    native.genrule(
        name = name + "_gen",
        srcs = srcs + options,
        outs = outs_h + outs_c,
        # $(@D): with several outputs, this package's root under bazel-bin; the
        # plugin writes <root>/<proto path>.nanopb.{h,c}. --error-on-unmatched: a
        # misspelt option is a build error, not a silently ignored one.
        cmd = ("protoc --proto_path=. " +
               "--plugin=protoc-gen-nanopb=$$(command -v protoc-gen-nanopb) " +
               "--nanopb_out=$(@D) " +
               "--nanopb_opt=--extension=.nanopb " +
               "--nanopb_opt=--options-path=" + options_path + " " +
               "--nanopb_opt=--error-on-unmatched " +
               "--nanopb_opt=--quiet " +
               " ".join(paths)),
    )
    native.cc_library(
        name = name,
        srcs = outs_c,
        hdrs = outs_h,
        includes = ["."],
        deps = deps + ["@system//:nanopb"],
        visibility = visibility,
    )
