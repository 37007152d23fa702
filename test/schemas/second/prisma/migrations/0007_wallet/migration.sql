-- A unique money column: PostgreSQL rounds what it is compared with to the column's scale
-- (`balance = '7.001'` finds the row holding 7.00), which the argument's numeric value does not tell.
CREATE TABLE "Wallet" (
    "id" SERIAL NOT NULL,
    "balance" MONEY NOT NULL,
    "owner" TEXT NOT NULL,

    CONSTRAINT "Wallet_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "Wallet_balance_key" ON "Wallet"("balance");
