"""hook.rootfs: paths of an image resolved inside its rootfs, never against the host's root."""

from __future__ import annotations

import errno
import os

import pytest

from hook import injector, rootfs
from hook.nvc.rules import compat_libraries
from hook.plan import GlobalOptions, Plan


@pytest.fixture
def image(tmp_path):
    """A rootfs whose CUDA goes through absolute links, as update-alternatives sets it up, and a host
    directory beside it that holds a library an image must never see."""
    root = tmp_path / "rootfs"
    compat = root / "usr" / "local" / "cuda-12.4" / "compat"
    compat.mkdir(parents=True)
    (compat / "libcuda.so.550.54.15").write_text("")
    (compat / "libcuda.so.1").symlink_to("libcuda.so.550.54.15")
    (compat / "README").write_text("")
    (root / "etc" / "alternatives").mkdir(parents=True)
    (root / "etc" / "alternatives" / "cuda").symlink_to("/usr/local/cuda-12.4")
    (root / "usr" / "local" / "cuda").symlink_to("/etc/alternatives/cuda")
    host = tmp_path / "host-lib"
    host.mkdir()
    (host / "libhost.so.1").write_text("")
    return root, host


def test_absolute_links_are_followed_inside_the_rootfs(image):
    root, _ = image
    compat = f"{root}/usr/local/cuda-12.4/compat"
    assert rootfs.resolve(str(root), "/usr/local/cuda/compat") == compat
    assert compat_libraries(str(root)) == [f"{compat}/libcuda.so.1", f"{compat}/libcuda.so.550.54.15"]


def test_auto_injector_sees_compat_libraries_behind_absolute_links(image, monkeypatch):
    import hook.nvc as nvc

    monkeypatch.setattr(nvc, "find_library", lambda path, root: "/usr/lib/libnvidia-container.so.1")
    root, _ = image
    plan = Plan(options=GlobalOptions(), cuda_compat_mode="ldconfig", ldconfig="@/sbin/ldconfig", no_cgroups=False,
                devices=("0",), mig_config="", mig_monitor="", imex_channels=(), capabilities=("compute",),
                requirements=(), pid=42, rootfs=str(root))
    choice = injector.choose(plan.replace(injector="auto"))
    assert choice == injector.Choice("cli", "injector = 'auto': the container has CUDA forward-compat libraries "
                                            "(libcuda.so.1) that only the CLI filters (cuda-compat-mode=ldconfig)")


@pytest.mark.parametrize("kind", ["absolute", "dotdot"])
def test_links_to_host_directories_never_list_them(image, kind):
    """``/usr/local/cuda`` pointing at a host CUDA tree (absolute, or by climbing out with ``..``)."""
    root, host = image
    host_cuda = host.parent / "host-cuda"
    (host_cuda / "compat").mkdir(parents=True)
    (host_cuda / "compat" / "libcuda.so.999.1").write_text("")
    cuda = root / "usr" / "local" / "cuda"
    cuda.unlink()
    cuda.symlink_to(str(host_cuda) if kind == "absolute" else "../" * 12 + str(host_cuda).lstrip("/"))
    assert compat_libraries(str(root)) == []
    with pytest.raises(FileNotFoundError):
        rootfs.resolve(str(root), "/usr/local/cuda")


@pytest.mark.parametrize("target,inside", [("/", ""), ("..", "/usr"), ("../../../../../../../..", ""),
                                           ("/../../..", ""), ("/usr/../../..", "")])
def test_dotdot_and_root_stop_at_the_rootfs(image, target, inside):
    root, _ = image
    cuda = root / "usr" / "local" / "cuda"
    cuda.unlink()
    cuda.symlink_to(target)
    assert rootfs.resolve(str(root), "/usr/local/cuda") == f"{root}{inside}"
    assert compat_libraries(str(root)) == []  # <rootfs>/compat does not exist; the host's /compat is not read


def test_relative_link_escaping_by_dotdot_is_clamped(image):
    root, host = image
    compat = root / "usr" / "local" / "cuda-12.4" / "compat"
    for p in compat.iterdir():
        p.unlink()
    compat.rmdir()
    rel = os.path.relpath(host, compat.parent)  # ../../../../host-lib from the host's point of view
    compat.symlink_to(rel)
    assert rel.startswith("../")
    assert compat_libraries(str(root)) == []
    with pytest.raises(FileNotFoundError):
        rootfs.resolve(str(root), "/usr/local/cuda/compat")


def test_a_link_to_a_host_directory_is_a_path_of_the_image(image):
    root, host = image
    (root / "usr" / "local" / "cuda").unlink()
    (root / "usr" / "local" / "cuda").symlink_to(str(host.parent))  # absolute host path: means <rootfs><path>
    with pytest.raises(FileNotFoundError):
        rootfs.listdir(str(root), "/usr/local/cuda/host-lib")
    (root / str(host.parent).lstrip("/") / "host-lib").mkdir(parents=True)
    path, names = rootfs.listdir(str(root), "/usr/local/cuda/host-lib")
    assert (path, names) == (f"{root}{host}", [])


def test_symlink_loops_end_with_eloop(tmp_path):
    (tmp_path / "a").symlink_to("/b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError) as err:
        rootfs.resolve(str(tmp_path), "a/x")
    assert err.value.errno == errno.ELOOP


def test_file_in_the_middle_is_not_a_directory(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(NotADirectoryError):
        rootfs.resolve(str(tmp_path), "/f/x")
    assert rootfs.resolve(str(tmp_path), "/./f") == f"{tmp_path}/f"
    assert rootfs.resolve(str(tmp_path), "..") == str(tmp_path)
