"""API tokens: a kind (api|web) and an expiry

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 10:00:00.000000

Every token gets `expires_at`. The tokens already there: a web page session's (named "web",
the only ones the pages issued) becomes kind "web" and ends 8 hours after its creation, the
default session lifetime; every other stays kind "api" and ends 90 days after its creation,
the default API token lifetime (PROTECT_API_TOKEN_DAYS). Fixed numbers, not the settings:
a migration gives the same result wherever it runs. A token older than that is expired
by the migration: tokens that never ended were the finding this migration answers.
"""
from datetime import timedelta

from alembic import op
import sqlalchemy as sa
import sqlmodel
import models.types


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

API_LIFETIME = timedelta(days=90)
WEB_LIFETIME = timedelta(hours=8)


def upgrade() -> None:
    with op.batch_alter_table('apitoken', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8),
                                      nullable=False, server_default='api'))
        batch_op.add_column(sa.Column('expires_at', models.types.UTCDateTime(), nullable=True))

    token = sa.table('apitoken', sa.column('id', sa.Integer()), sa.column('name', sa.String()),
                     sa.column('kind', sa.String()),
                     sa.column('created_at', models.types.UTCDateTime()),
                     sa.column('expires_at', models.types.UTCDateTime()))
    connection = op.get_bind()
    rows = connection.execute(sa.select(token.c.id, token.c.name, token.c.created_at)).all()
    for row_id, name, created_at in rows:
        web = name == 'web'
        connection.execute(token.update().where(token.c.id == row_id).values(
            kind='web' if web else 'api',
            expires_at=created_at + (WEB_LIFETIME if web else API_LIFETIME)))

    with op.batch_alter_table('apitoken', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=models.types.UTCDateTime(),
                              nullable=False)
        batch_op.alter_column('kind', existing_type=sqlmodel.sql.sqltypes.AutoString(length=8),
                              server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('apitoken', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
        batch_op.drop_column('kind')
