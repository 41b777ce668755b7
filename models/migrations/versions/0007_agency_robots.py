"""agency group robots (WeCom, DingTalk)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import models.types


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agencyrobot',
    sa.Column('agency_code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('secret', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('updated_at', models.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['agency_code'], ['agency.code'], ),
    sa.PrimaryKeyConstraint('agency_code')
    )


def downgrade() -> None:
    op.drop_table('agencyrobot')
