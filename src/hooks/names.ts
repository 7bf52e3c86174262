/**
 * Which of the config's server hooks run where, from the registry (settings/hooks.ts): in each
 * worker, or in the one hook host Node drives (arbiter side).
 */
import { HOOK_ENTRIES } from '../config/settings';

export const ARBITER_SIDE_HOOKS: readonly string[] = HOOK_ENTRIES.filter((e) => e.setting.runsIn === 'arbiter').map((e) => e.setting.file);
export const WORKER_SIDE_HOOKS: readonly string[] = HOOK_ENTRIES.filter((e) => e.setting.runsIn === 'worker').map((e) => e.setting.file);
