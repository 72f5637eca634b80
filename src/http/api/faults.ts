import { faultRuleFromConfig } from '../../config/faults.js';
import { faultRuleSchema } from '../../config/schema.js';
import { ok, textError, type Handler } from '../context.js';

/** GET /api/mailwharf/faults: the active rules (patterns shown as strings). */
export const listFaults: Handler = (ctx) =>
  Promise.resolve(
    ctx.faults.list().map((rule) => ({
      ...rule,
      ...(rule.sender === undefined ? {} : { sender: String(rule.sender) }),
      ...(rule.recipient === undefined ? {} : { recipient: String(rule.recipient) }),
    })),
  );

/** POST /api/mailwharf/faults: add one rule, in the config file's shape; answers its id. */
export const addFault: Handler = (ctx, request, reply) => {
  if (!ctx.config.faults.enabled)
    return Promise.resolve(textError(reply, 400, 'fault injection is not enabled (faults.enabled)'));
  const parsed = faultRuleSchema.safeParse(request.body);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(rule)'}: ${issue.message}`,
    );
    return Promise.resolve(textError(reply, 400, problems.join('; ')));
  }
  try {
    return Promise.resolve({ ID: ctx.faults.add(faultRuleFromConfig(parsed.data)) });
  } catch (error) {
    return Promise.resolve(textError(reply, 400, error instanceof Error ? error.message : String(error)));
  }
};

/** DELETE /api/mailwharf/faults: remove every rule. */
export const clearFaults: Handler = (ctx, _request, reply) => {
  ctx.faults.clear();
  return Promise.resolve(ok(reply));
};
