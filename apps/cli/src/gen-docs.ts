// Regenerates the key tables in docs/configuration.md from the schemas that validate them.
// Run: pnpm docs:gen. A test fails when the committed docs differ from what this writes.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeSchema, keyTable } from '@moat/config';
import { ScannerConfigSchema } from '@moat/scanner';
import { DigestSettingsSchema, MasterConfigSchema, ReportScheduleSchema } from '@moat/master';
import { BalancerConfigSchema } from '@moat/balancer';
import { RulesSchema, ContentRuleSchema, RecipientListSchema } from '@moat/rules';

export const DOC_FILE = fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url));

export const GENERATED: Record<string, string> = {
  'scanner-config': keyTable(describeSchema(ScannerConfigSchema)),
  'master-config': keyTable(describeSchema(MasterConfigSchema)),
  'balancer-config': keyTable(describeSchema(BalancerConfigSchema)),
  'rules-document': keyTable(describeSchema(RulesSchema)),
  'content-rule': keyTable(describeSchema(ContentRuleSchema)),
  'recipient-list': keyTable(describeSchema(RecipientListSchema)),
  'digest-settings': keyTable(describeSchema(DigestSettingsSchema)),
  'report-schedule': keyTable(describeSchema(ReportScheduleSchema)),
};

/** Replace the text between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`. */
export function render(doc: string): string {
  return doc.replace(/(<!-- generated:([a-z-]+) -->)[\s\S]*?(<!-- \/generated:\2 -->)/g, (_m, open: string, name: string, close: string) => {
    const body = GENERATED[name];
    if (body === undefined) throw new Error(`unknown generated section ${name}`);
    return `${open}\n${body}\n${close}`;
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(DOC_FILE, render(readFileSync(DOC_FILE, 'utf8')));
  process.stdout.write(`updated ${DOC_FILE}\n`);
}
