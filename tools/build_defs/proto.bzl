"""C++ protobuf + gRPC code from a .proto, with the system protoc and grpc_cpp_plugin.

Bazel's native proto rules want @com_google_protobuf (a download); this macro runs the
Debian protoc in a genrule instead. Generated code lands in bazel-bin, never in git.
"""

def cc_proto_grpc_library(name, src, proto_deps = [], deps = [], grpc = True, visibility = None):
    """Declares `name`, a cc_library over the code generated from `src`.

    Args:
      name: the cc_library's name.
      src: the .proto file, in this package.
      proto_deps: labels of other cc_proto_grpc_library targets whose .proto `src` imports.
      deps: more cc deps.
      grpc: whether to generate the gRPC service stubs too.
      visibility: as usual.
    """
    base = src[:-len(".proto")]
    hdrs = [base + ".pb.h"]
    srcs = [base + ".pb.cc"]
    if grpc:
        hdrs.append(base + ".grpc.pb.h")
        srcs.append(base + ".grpc.pb.cc")
    grpc_flags = ""
    if grpc:
        grpc_flags = "--grpc_out=$(GENDIR) --plugin=protoc-gen-grpc=$$(command -v grpc_cpp_plugin) "
    native.filegroup(
        name = name + "_proto",
        srcs = [src] + [d + "_proto" for d in proto_deps],
        visibility = visibility,
    )
    native.genrule(
        name = name + "_gen",
        srcs = [src] + [d + "_proto" for d in proto_deps],
        outs = hdrs + srcs,
        cmd = ("protoc --proto_path=. --proto_path=/usr/include --cpp_out=$(GENDIR) " +
               grpc_flags + "$(location " + src + ")"),
    )
    native.cc_library(
        name = name,
        srcs = srcs,
        hdrs = hdrs,
        deps = proto_deps + deps + ["@system//:grpc", "@system//:protobuf"],
        visibility = visibility,
    )
