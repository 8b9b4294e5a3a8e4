import type { Db } from '@moat/storage';
import type { Role } from '../app-deps.ts';

/** A user as the rest of the app sees it: never the password hash, except through `passwordHashOf`. */
export interface User {
  readonly id: number;
  readonly username: string;
  readonly role: Role;
  readonly disabled: boolean;
  readonly createdAt: number;
}

export interface UserChanges {
  readonly role?: Role;
  readonly disabled?: boolean;
  readonly passwordHash?: string;
}

export interface UsersRepository {
  list(): User[];
  findById(id: number): User | undefined;
  /** User names are case-insensitive. */
  findByUsername(username: string): User | undefined;
  passwordHashOf(id: number): string | undefined;
  create(username: string, passwordHash: string, role: Role): User;
  update(id: number, changes: UserChanges): User | undefined;
  remove(id: number): boolean;
  count(): number;
  /** Admins who can still sign in. */
  activeAdminCount(): number;
}

interface UserRow {
  id: number;
  username: string;
  role: Role;
  disabled: number;
  created_at: number;
}

const COLUMNS = 'id, username, role, disabled, created_at';

export function createUsersRepository(db: Db, now: () => number): UsersRepository {
  const byId = db.prepare<[number], UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = ?`);
  const byName = db.prepare<[string], UserRow>(`SELECT ${COLUMNS} FROM users WHERE username = ?`);
  const all = db.prepare<[], UserRow>(`SELECT ${COLUMNS} FROM users ORDER BY username`);
  const hashOf = db.prepare<[number], { password_hash: string }>('SELECT password_hash FROM users WHERE id = ?');
  const insert = db.prepare<[string, string, Role, number]>('INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)');
  const del = db.prepare<[number]>('DELETE FROM users WHERE id = ?');
  const countAll = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM users');
  const countAdmins = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM users WHERE role = 'admin' AND disabled = 0");

  return {
    list: () => all.all().map(toUser),
    findById: (id) => mapRow(byId.get(id)),
    findByUsername: (username) => mapRow(byName.get(username)),
    passwordHashOf: (id) => hashOf.get(id)?.password_hash,
    create(username, passwordHash, role) {
      const result = insert.run(username, passwordHash, role, now());
      return toUser(byId.get(Number(result.lastInsertRowid)) as UserRow);
    },
    update(id, changes) {
      const sets: string[] = [];
      const values: (string | number)[] = [];
      if (changes.role !== undefined) {
        sets.push('role = ?');
        values.push(changes.role);
      }
      if (changes.disabled !== undefined) {
        sets.push('disabled = ?');
        values.push(changes.disabled ? 1 : 0);
      }
      if (changes.passwordHash !== undefined) {
        sets.push('password_hash = ?');
        values.push(changes.passwordHash);
      }
      if (sets.length > 0) db.prepare(`UPDATE users SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
      return mapRow(byId.get(id));
    },
    remove: (id) => del.run(id).changes > 0,
    count: () => countAll.get()?.n ?? 0,
    activeAdminCount: () => countAdmins.get()?.n ?? 0,
  };
}

/** SQLite's unique-constraint error, for "that user name is taken". */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function mapRow(row: UserRow | undefined): User | undefined {
  return row === undefined ? undefined : toUser(row);
}

function toUser(row: UserRow): User {
  return { id: row.id, username: row.username, role: row.role, disabled: row.disabled === 1, createdAt: row.created_at };
}
