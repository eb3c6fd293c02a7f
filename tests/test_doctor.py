"""`ptgm doctor`'s checks that need no simulator."""

from ptgm_cli.doctor import check_numerics


def test_the_numerics_check_names_the_kernels_that_round_the_results(monkeypatch):
    monkeypatch.delenv("MKL_ENABLE_INSTRUCTIONS", raising=False)
    assert "MKL kernels chosen by MKL" in check_numerics().detail
    monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", "AVX2")
    check = check_numerics()
    assert check.level == "ok" and "MKL kernels AVX2" in check.detail
    assert "torch CPU kernels" in check.detail
