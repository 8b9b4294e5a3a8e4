import { sql, type Kysely, type Selectable, type Updateable } from 'kysely';
import type { MasterSchema, UsersTable } from '../db/schema.ts';
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
  list(): Promise<User[]>;
  findById(id: number): Promise<User | undefined>;
  /** User names are case-insensitive. */
  findByUsername(username: string): Promise<User | undefined>;
  passwordHashOf(id: number): Promise<string | undefined>;
  create(username: string, passwordHash: string, role: Role): Promise<User>;
  update(id: number, changes: UserChanges): Promise<User | undefined>;
  remove(id: number): Promise<boolean>;
  count(): Promise<number>;
  /** Admins who can still sign in. */
  activeAdminCount(): Promise<number>;
}

type UserRow = Pick<Selectable<UsersTable>, 'id' | 'username' | 'role' | 'disabled' | 'created_at'>;

const COLUMNS = ['id', 'username', 'role', 'disabled', 'created_at'] as const;

/** Users on either engine (`db` may be a transaction). Names compare case-insensitively on both: SQLite's column is NOCASE, PostgreSQL's unique index is on lower(username). */
export function createUsersRepository(db: Kysely<MasterSchema>, now: () => number): UsersRepository {
  const byId = (id: number) => db.selectFrom('users').select(COLUMNS).where('id', '=', id).executeTakeFirst();
  const countWhere = async (adminsOnly: boolean) => {
    let q = db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n'));
    if (adminsOnly) q = q.where('role', '=', 'admin').where('disabled', '=', 0);
    return Number((await q.executeTakeFirst())?.n ?? 0);
  };
  return {
    list: async () => (await db.selectFrom('users').select(COLUMNS).orderBy('username').execute()).map(toUser),
    findById: async (id) => mapRow(await byId(id)),
    findByUsername: async (username) =>
      mapRow(await db.selectFrom('users').select(COLUMNS).where(sql<string>`lower(username)`, '=', username.toLowerCase()).executeTakeFirst()),
    passwordHashOf: async (id) => (await db.selectFrom('users').select('password_hash').where('id', '=', id).executeTakeFirst())?.password_hash,
    async create(username, passwordHash, role) {
      const row = await db.insertInto('users').values({ username, password_hash: passwordHash, role, created_at: now() }).returning(COLUMNS).executeTakeFirstOrThrow();
      return toUser(row);
    },
    async update(id, changes) {
      const set: Updateable<UsersTable> = {
        ...(changes.role !== undefined && { role: changes.role }),
        ...(changes.disabled !== undefined && { disabled: changes.disabled ? 1 : 0 }),
        ...(changes.passwordHash !== undefined && { password_hash: changes.passwordHash }),
      };
      if (Object.keys(set).length > 0) await db.updateTable('users').set(set).where('id', '=', id).execute();
      return mapRow(await byId(id));
    },
    remove: async (id) => Number((await db.deleteFrom('users').where('id', '=', id).executeTakeFirst()).numDeletedRows) > 0,
    count: () => countWhere(false),
    activeAdminCount: () => countWhere(true),
  };
}

/** A unique-constraint error on either engine, for "that user name is taken". */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}

function mapRow(row: UserRow | undefined): User | undefined {
  return row === undefined ? undefined : toUser(row);
}

function toUser(row: UserRow): User {
  return { id: row.id, username: row.username, role: row.role, disabled: row.disabled === 1, createdAt: row.created_at };
}
