"""unpoold's own gRPC definition (api/proto/kserve_v2.proto) against the
one tritonclient.grpc is generated from: wire compatibility needs the same
package, service, method names and types, and every message field with
the same name, number, type and label. Ours is compiled here with protoc-c
(-o, a FileDescriptorSet) and compared message by message; a field
renumbered or retyped in ours fails the case naming it."""
import os
import subprocess
import tempfile

from google.protobuf import descriptor_pb2
from tritonclient.grpc import service_pb2

from harness import ROOT, check, finish


def ours():
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "ours.pb")
        subprocess.run(["protoc-c", "-o", out, "--proto_path=" + os.path.join(ROOT, "api/proto"),
                        os.path.join(ROOT, "api/proto/kserve_v2.proto")], check=True)
        fds = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as f:
            fds.ParseFromString(f.read())
    (fd,) = fds.file
    return fd


OURS = ours()
THEIRS = descriptor_pb2.FileDescriptorProto()
service_pb2.DESCRIPTOR.CopyToProto(THEIRS)


def by_name(items):
    return {m.name: m for m in items}


def fields(m):
    """name -> (number, type, label, type_name without package) of a message."""
    return {f.name: (f.number, f.type, f.label, f.type_name.split(".")[-1]) for f in m.field}


def same_message(ours_m, theirs_m, path):
    a, b = fields(ours_m), fields(theirs_m)
    for name, spec in a.items():
        assert name in b, "%s.%s is not in tritonclient's definition" % (path, name)
        assert spec == b[name], "%s.%s: ours %s, theirs %s" % (path, name, spec, b[name])
    theirs_nested = by_name(theirs_m.nested_type)
    for n in ours_m.nested_type:
        assert n.name in theirs_nested, "%s.%s is not in theirs" % (path, n.name)
        same_message(n, theirs_nested[n.name], path + "." + n.name)


def test_package():
    assert OURS.package == THEIRS.package == "inference", (OURS.package, THEIRS.package)


def test_messages():
    theirs = by_name(THEIRS.message_type)
    assert len(OURS.message_type) >= 20
    for m in OURS.message_type:
        assert m.name in theirs, "message %s is not in tritonclient's definition" % m.name
        same_message(m, theirs[m.name], m.name)


def test_every_field_of_the_served_messages():
    """Fields we might have left out would be dropped silently: every field of
    the messages unpoold reads or writes is in ours."""
    theirs = by_name(THEIRS.message_type)
    for m in OURS.message_type:
        missing = set(fields(theirs[m.name])) - set(fields(m))
        assert not missing, "%s lacks %s" % (m.name, sorted(missing))


def test_methods():
    (svc,) = OURS.service
    theirs = by_name(by_name(THEIRS.service)[svc.name].method)
    assert svc.name == "GRPCInferenceService"
    assert len(svc.method) == 9, [m.name for m in svc.method]
    for m in svc.method:
        t = theirs[m.name]
        assert (m.input_type.split(".")[-1], m.output_type.split(".")[-1]) == \
            (t.input_type.split(".")[-1], t.output_type.split(".")[-1]), m.name
        assert not m.client_streaming and not m.server_streaming, m.name


for name, fn in list(globals().items()):
    if name.startswith("test_") and callable(fn):
        check(name, fn)
finish()
