"""SPiRL's skill model: shapes of both decoders, the KLs against hand-computed values and their
direction, what each loss term trains, and that it learns to reconstruct skills."""

import math

import pytest
import torch

from ptgm_cli.models.skills import SkillModel, gaussian_kl, skill_objective

STATE_DIM, ACTION_DIM, LENGTH, LATENT = 30, 3, 4, 2  # qpos30 states


def model(closed_loop: bool) -> SkillModel:
    torch.manual_seed(0)
    return SkillModel("qpos30", ACTION_DIM, LENGTH, LATENT, hidden=16, closed_loop=closed_loop)


def batch(size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return (torch.randn(size, LENGTH + 1, STATE_DIM, generator=generator),
            torch.randn(size, LENGTH, ACTION_DIM, generator=generator))


def test_gaussian_kl_matches_the_closed_form_by_hand():
    # KL(N(1, 0.5^2) || N(0, 2^2)) = log(2 / 0.5) + (0.25 + 1) / (2 * 4) - 0.5
    kl = gaussian_kl(torch.tensor([1.0]), torch.tensor([math.log(0.5)]), torch.tensor([0.0]),
                     torch.tensor([math.log(2.0)]))
    assert kl.item() == pytest.approx(math.log(4) + 1.25 / 8 - 0.5)
    reverse = gaussian_kl(torch.tensor([0.0]), torch.tensor([math.log(2.0)]),
                          torch.tensor([1.0]), torch.tensor([math.log(0.5)]))
    assert reverse.item() == pytest.approx(math.log(0.25) + (4 + 1) / (2 * 0.25) - 0.5)
    same = gaussian_kl(torch.ones(3), torch.zeros(3), torch.ones(3), torch.zeros(3))
    assert same.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("closed_loop", [True, False])
def test_shapes_of_both_decoders(closed_loop):
    skills, (states, actions) = model(closed_loop), batch()
    mean, log_std = skills.posterior(states, actions)
    assert mean.shape == log_std.shape == (8, LATENT)
    assert skills.decode(mean, states).shape == (8, LENGTH, ACTION_DIM)
    prior_mean, prior_log_std = skills.prior_distribution(states[:, 0])
    assert prior_mean.shape == prior_log_std.shape == (8, LATENT)
    values = skill_objective(skills, (states, actions))
    assert set(values) == {"loss", "action_mse", "kl", "prior_kl"}
    assert all(value.shape == (8,) for value in values.values())


def test_only_the_closed_loop_decoder_depends_on_the_states():
    states, _ = batch()
    latents = torch.randn(8, LATENT)
    for closed_loop in (True, False):
        skills = model(closed_loop).eval()
        moved = skills.decode(latents, states + 1.0)
        assert torch.equal(moved, skills.decode(latents, states)) != closed_loop
    skills = model(closed_loop=True).eval()
    torch.testing.assert_close(skills.decode(latents, states)[:, 2],
                               skills.decode_step(states[:, 2], latents))


def test_the_prior_term_trains_only_the_prior():
    skills = model(closed_loop=True)
    skill_objective(skills, batch())["prior_kl"].mean().backward()
    for name, parameter in skills.named_parameters():
        touched = parameter.grad is not None and bool(parameter.grad.abs().sum() > 0)
        assert touched == name.startswith("prior."), name


def test_states_are_standardised_with_the_training_statistics_everywhere():
    skills, states = model(closed_loop=True), torch.randn(100, STATE_DIM) * 3 + 2
    skills.fit_state_normalisation(states)
    torch.testing.assert_close(skills.state_mean, states.mean(0))
    torch.testing.assert_close(skills.prior.input_mean, states.mean(0))
    torch.testing.assert_close(skills.decoder.input_mean[:STATE_DIM], states.mean(0))
    assert skills.decoder.input_mean[STATE_DIM:].tolist() == [0.0] * LATENT  # z as it is
    assert skills.decoder.input_std[STATE_DIM:].tolist() == [1.0] * LATENT


@pytest.mark.slow
@pytest.mark.parametrize("closed_loop", [True, False])
def test_it_learns_to_reconstruct_a_few_skills(closed_loop):
    torch.manual_seed(0)
    skills, data = model(closed_loop), batch(16)
    optimizer = torch.optim.Adam(skills.parameters(), lr=3e-3)
    first = skill_objective(skills, data)["action_mse"].mean().item()
    for _ in range(300):
        loss = skill_objective(skills, data)["loss"].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert skill_objective(skills, data)["action_mse"].mean().item() < 0.3 * first
