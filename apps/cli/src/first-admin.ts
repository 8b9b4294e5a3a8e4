/**
 * What `moat master` says on its first start when it generated the admin's password. The
 * password is shown only on a terminal: under systemd or Docker, standard error is the journal
 * or the container log, kept and shipped, so there it only says where the file is (0600, in the
 * data folder). docs/operator-guide.md, "The first admin", says how to rotate it.
 */
export function firstAdminNotice(admin: { username?: string | undefined; generatedPassword?: string | undefined; passwordFile?: string | undefined }, onTerminal: boolean): string | undefined {
  if (!admin.generatedPassword) return undefined;
  const rotate = "sign in and change it (or 'moat master reset-password'), then delete the file";
  if (onTerminal) return `\nFirst start: admin user '${admin.username}' created; password: ${admin.generatedPassword}\n(also in ${admin.passwordFile}, mode 0600; ${rotate})\n\n`;
  return `\nFirst start: admin user '${admin.username}' created with a generated password, in ${admin.passwordFile} (mode 0600; not shown here, as this output is not a terminal and may be kept in a log); ${rotate}\n\n`;
}
