import pytest
import torch

from ganengine.unconditional import UnconditionalConfig, build_models


@pytest.mark.parametrize("resolution", [32, 64, 128, 256])
def test_networks_work_at_every_supported_resolution(resolution: int) -> None:
    config = UnconditionalConfig(resolution=resolution, latent_dim=16, base_channels=4)
    generator, discriminator = build_models(config)
    images = generator(torch.randn(2, 16))
    assert images.shape == (2, 1, resolution, resolution)
    assert images.min() >= -1 and images.max() <= 1
    assert discriminator(images).shape == (2,)


def test_initialisation_depends_only_on_the_seed() -> None:
    config = UnconditionalConfig(resolution=32, base_channels=4)
    torch.manual_seed(123)  # the caller's RNG state must not matter, nor be changed
    state = torch.random.get_rng_state()
    first, _ = build_models(config)
    assert torch.equal(torch.random.get_rng_state(), state)
    second, _ = build_models(config)
    third, _ = build_models(UnconditionalConfig(resolution=32, base_channels=4, seed=1))
    first_params, second_params = first.state_dict(), second.state_dict()
    assert all(torch.equal(first_params[k], second_params[k]) for k in first_params)
    assert not torch.equal(first_params["to_gray.weight"], third.state_dict()["to_gray.weight"])
