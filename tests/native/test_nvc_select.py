"""Device, MIG-config/monitor and IMEX selection (libnvidia-container.md §4)."""

from __future__ import annotations

import pytest

from hook.nvc import InjectionError
from hook.nvc.rules import Gpu, Mig, Selection, parse_imex, select_devices, select_mig_caps

M00 = Mig(0, 0, "MIG-aaaaaaaa-0000-0000-0000-000000000000")
M01 = Mig(0, 1, "MIG-GPU-11111111-1111-1111-1111-111111111111/1/0")
GPUS = (
    Gpu(0, "GPU-11111111-1111-1111-1111-111111111111", "00000000:3B:00.0", "8.0", "Tesla", True, (M00, M01)),
    Gpu(1, "GPU-22222222-2222-2222-2222-222222222222", "00000000:86:00.0", "9.0", "Tesla"),
    Gpu(2, "GPU-33333333-3333-3333-3333-333333333333", "00000001:AF:00.0", "9.0", "Tesla"),
)


@pytest.mark.parametrize("devices, gpus, migs", [
    ("all", (0, 1, 2), (M00, M01)),
    ("ALL,junk", (0, 1, 2), (M00, M01)),
    ("0", (0,), ()),
    ("2,0,2", (2, 0), ()),
    (" 1", (1,), ()),
    ("+1", (1,), ()),
    ("-0", (0,), ()),
    ("gpu-22222222-2222-2222-2222-222222222222", (1,), ()),
    ("00000000:86:00.0", (1,), ()),
    ("0:3b:00.7", (0,), ()),           # function ignored, domain 0
    ("1:af:0", (2,), ()),
    ("MIG-aaaaaaaa-0000-0000-0000-000000000000", (0,), (M00,)),
    ("0:1", (0,), (M01,)),
    ("0:1,0:0,0", (0,), (M01, M00)),
    ("1,0:1", (1, 0), (M01,)),
    (",,1,,", (1,), ()),
    ("", (), ()),
])
def test_select(devices, gpus, migs):
    sel = select_devices(devices, GPUS)
    assert (sel.gpus, sel.migs) == (gpus, migs)
    assert sel.all == devices.lower().startswith("all")


@pytest.mark.parametrize("token", ["3", "-1", "junk", "none", "void", "3b:00.0", "1:5", "GPU-", "GPU-1111",
                                   "0;1", "0\n1", "nvidia.com/gpu=0", "MIG-nope", "1:2:3"])
def test_unknown_device(token):
    with pytest.raises(InjectionError) as exc:
        select_devices(f"0,{token}", GPUS)
    assert str(exc.value) == f"nvidia-container-cli: device error: {token}: unknown device"


def test_junk_before_all_fails_and_no_gpus_accepts_anything():
    with pytest.raises(InjectionError, match="^nvidia-container-cli: device error: junk: unknown device$"):
        select_devices("junk,all", GPUS)
    assert select_devices("junk", ()) == Selection()


def test_mig_caps():
    all_sel = select_devices("all", GPUS)
    assert select_mig_caps("mig-config", "all", all_sel, GPUS) == (True, (0,))
    assert select_mig_caps("mig-config", "", all_sel, GPUS) == (False, ())
    assert select_mig_caps("mig-monitor", "ALL,,all", select_devices("1,2", GPUS), GPUS) == (True, ())
    assert select_mig_caps("mig-monitor", "all", select_devices("1,0", GPUS), GPUS) == (True, (0,))
    with pytest.raises(InjectionError) as exc:
        select_mig_caps("mig-config", "all", select_devices("0:0", GPUS), GPUS)
    assert str(exc.value) == ("nvidia-container-cli: mig-config error: cannot enable mig-config with specific MIG "
                              "devices selected")
    with pytest.raises(InjectionError) as exc:
        select_mig_caps("mig-monitor", "0", all_sel, GPUS)
    assert str(exc.value) == "nvidia-container-cli: mig-monitor error: 0: only 'all' devices are currently supported"


def test_imex():
    assert parse_imex("") == ()
    assert parse_imex("0,5,,5, 7,+3") == (0, 5, 5, 7, 3)
    assert parse_imex("1048575") == (1048575,)
    for bad in ("1048576", "all", "1x", "-1"):
        with pytest.raises(InjectionError) as exc:
            parse_imex(f"1,{bad}")
        assert str(exc.value) == f"nvidia-container-cli: error parsing IMEX info: unsupported IMEX channel value: {bad}"


@pytest.mark.parametrize("token, gpus", [
    ("0x0:0x3b:0x0", (0,)), (" 0: 3b: 0", (0,)), ("+0:+86:0junk", (1,)), ("00000001:af:00.0", (2,)),
    ("0x:3b:0", ()), ("0:1:x", (0,)),  # the last: not PCI, then MIG 0:1 (trailing text ignored)
])
def test_pci_scanning(token, gpus):
    if gpus:
        assert select_devices(token, GPUS).gpus == gpus
    else:
        with pytest.raises(InjectionError):
            select_devices(token, GPUS)
