"""The critic ensemble: each member is an ordinary MLP critic, and Q at the taken codes is the
full output at those codes, gradient included."""

import torch
import torch.nn.functional as F

from ptgm_cli.rl.critics import CriticEnsemble

STATE_DIM, N_CODES = 6, 7


def ensemble(layer_norm: bool, time_input: bool = False) -> CriticEnsemble:
    torch.manual_seed(0)
    return CriticEnsemble(3, torch.full((STATE_DIM,), 0.5), torch.full((STATE_DIM,), 2.0),
                          N_CODES, hidden=8, layers=2, layer_norm=layer_norm,
                          time_input=time_input)


def one_member(critics: CriticEnsemble, member: int, states: torch.Tensor,
               time_left: torch.Tensor | None) -> torch.Tensor:
    """Member `member` computed as a plain MLP from its own slices of the weights."""
    x = (states - critics.input_mean) / critics.input_std
    if time_left is not None:
        x = torch.cat([x, time_left[:, None]], dim=1)
    for index, layer in enumerate(critics.hidden_layers):
        x = F.linear(x, layer.weight[member].T, layer.bias[member, 0])
        if critics.norms is not None:
            norm = critics.norms[index]
            x = F.layer_norm(x, x.shape[-1:], norm.weight[member, 0], norm.bias[member, 0])
        x = F.relu(x)
    return F.linear(x, critics.head.weight[member].T, critics.head.bias[member, 0])


def test_each_member_is_an_independent_mlp():
    for layer_norm, time_input in ((True, True), (False, False)):
        critics = ensemble(layer_norm, time_input)
        with torch.no_grad():  # give the norms' gains and biases distinct values per member
            for parameter in critics.parameters():
                parameter.add_(torch.randn_like(parameter) * 0.1)
        states = torch.randn(5, STATE_DIM)
        time_left = torch.rand(5) if time_input else None
        q = critics(states, time_left)
        assert q.shape == (3, 5, N_CODES)
        for member in range(3):
            torch.testing.assert_close(q[member], one_member(critics, member, states, time_left))
        assert not torch.allclose(q[0], q[1])  # initialised independently


def test_q_at_the_taken_codes_and_its_gradient_match_the_full_output():
    critics, states = ensemble(layer_norm=True), torch.randn(5, STATE_DIM)
    codes = torch.tensor([0, 6, 6, 2, 3])
    hidden = critics.features(states, None)
    taken = critics.head.at(hidden, codes)
    full = critics.head(hidden)[:, torch.arange(5), codes]
    torch.testing.assert_close(taken, full)

    gradients = []
    for q in (taken, full):
        critics.zero_grad()
        (q * torch.arange(15.0).view(3, 5)).sum().backward(retain_graph=True)
        gradients.append([p.grad.clone() for p in critics.parameters()])
    for sparse, dense in zip(*gradients, strict=True):
        torch.testing.assert_close(sparse, dense)
