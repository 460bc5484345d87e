// The server is the only judge of an incident's lifecycle. Every incident it sends says what this user may
// do now (allowed_actions), which of those need a reason (needs_reason) and the state each leads to
// (next_state); a leader's copy also carries the steps ahead (ahead), so the phone can show a step queued
// offline. The pages draw their buttons from these and know no rule of their own.
export const allowedActions = (inc) => (inc && inc.allowed_actions) || [];
export const allows = (inc, action) => allowedActions(inc).includes(action);
export const needsReason = (inc, action) => ((inc && inc.needs_reason) || []).includes(action);

// The incident as the server's answer will show it after `action` (null when the server did not say).
export function predict(inc, action) {
  const state = inc.next_state && inc.next_state[action];
  if (!state) return null;
  const step = (inc.ahead && inc.ahead[state]) || {};
  return { ...inc, state, allowed_actions: step.allowed_actions || [], needs_reason: step.needs_reason || [],
    next_state: step.next_state || {} };
}
