/**
 * Where the grid's ledger lives: a Postgres connection string, or — left empty — embedded PGlite
 * (Postgres in WASM) in a data directory on the n8n host. There is no HTTP endpoint to test, so
 * the nodes test it by connecting (`testedBy: gridDatabaseConnectionTest`, as n8n's Postgres
 * node does).
 */
import type { Icon, ICredentialType, INodeProperties } from 'n8n-workflow';

export class GridDatabaseApi implements ICredentialType {
  name = 'gridDatabaseApi';

  displayName = 'Grid Database API';

  icon: Icon = { light: 'file:../icons/grid.svg', dark: 'file:../icons/grid.dark.svg' };

  documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-grid-governance#credentials';

  properties: INodeProperties[] = [
    // eslint-disable-next-line @n8n/community-nodes/credential-unnecessary-password -- a connection string carries the database password (postgres://user:PASSWORD@host/db)
    {
      displayName: 'Connection String',
      name: 'connectionString',
      type: 'string',
      typeOptions: { password: true },
      default: '',
      placeholder: 'postgres://grid:secret@db.example.com:5432/grid',
      description: 'Postgres server. Leave empty to use the embedded PGlite database in the data directory below.',
    },
    {
      displayName: 'Schema',
      name: 'schema',
      type: 'string',
      default: 'grid',
      description: 'Schema holding the ledger tables (lower-case letters, digits, _)',
    },
    {
      displayName: 'Data Directory',
      name: 'dataDir',
      type: 'string',
      default: '.grid/pgdata',
      description: 'Embedded PGlite only: directory on the n8n host (relative paths are relative to where n8n was started; prefer an absolute path)',
      displayOptions: { show: { connectionString: [''] } },
    },
  ];
}
