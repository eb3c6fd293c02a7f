"""Fingertip-to-handle distances, checked against the expert's own grasps in the simulator."""

import numpy as np

from ptgm_cli.kitchen.env import INIT_QPOS, KitchenEnv
from ptgm_cli.kitchen.expert import ScriptedExpert
from ptgm_cli.kitchen.reach import GRASP_SITES, handle_distances
from ptgm_cli.kitchen.tasks import SUBTASKS


def test_the_expert_brings_the_fingertips_to_the_handle_it_grasps():
    env = KitchenEnv(tasks=SUBTASKS, ordered=False, max_episode_steps=None)
    env.reset(seed=0)
    expert = ScriptedExpert(env.model, env.data, np.random.default_rng(0), action_noise=0.0)
    expert.start("kettle")
    poses = [env.data.qpos[:9].copy()]
    while not expert.skill_finished:
        env.step(expert.act())
        poses.append(env.data.qpos[:9].copy())
    distances = handle_distances(np.array(poses))
    assert set(distances) == set(GRASP_SITES)
    assert distances["kettle"].min() < 0.02  # the grasp
    assert distances["kettle"][0] > 0.2  # the reset pose is far from it
    np.testing.assert_allclose(handle_distances(INIT_QPOS[None, :9])["kettle"],
                               distances["kettle"][:1])
