import json

import pytest

from kfashion import bench, models


def test_flops_are_counted_from_the_layers():
    encoder = models.build_encoder(64, 0.2)
    # conv1 26*26*16*9*1, conv2 11*11*32*9*16, dense 800*64 multiply-adds
    forward = 2 * (26 * 26 * 16 * 9 + 11 * 11 * 32 * 9 * 16 + 800 * 64)
    assert bench.training_flops_per_image(encoder) == 3 * forward
    autoencoder = models.build_autoencoder(64, 0.2)
    # decoder: dense 64*800, deconv1 5*5*32*16*16, deconv2 13*13*16*9*1
    decoder = 2 * (64 * 800 + 5 * 5 * 32 * 16 * 16 + 13 * 13 * 16 * 9)
    assert bench.training_flops_per_image(autoencoder) == 3 * (forward + decoder)


@pytest.mark.usefixtures("debian_data_dir")
def test_bench_writes_its_figures(tmp_path, capsys):
    bench.main(["--images", "500", "--repeats", "1", "--skip-study", "--results", str(tmp_path)])
    (entry,) = json.loads((tmp_path / "bench.json").read_text()).values()
    for network in ("autoencoder", "classifier"):
        for path in ("plain_fit", "kfashion"):
            figures = entry["training"][network][path]
            assert figures["images_per_second_median"] > 0
            assert 0 < figures["fraction_of_matmul_peak"] < 1
    assert entry["matmul_peak_gflops"] > 0 and entry["data_load_seconds"] > 0
    assert "speed-up" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["--full-sweep", "0"], ["--images", "50"]])
def test_bad_arguments_are_refused_before_anything_runs(tmp_path, capsys, args):
    with pytest.raises(SystemExit) as exit_info:
        bench.main([*args, "--results", str(tmp_path)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "bench.json").exists()
